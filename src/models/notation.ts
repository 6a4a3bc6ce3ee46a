// The variant notation as text ("dw-scc:cg=2,co=0.5"): pure functions of plain variants,
// with no imports at run time, so the dashboard's page (src/serve/client) bundles the very
// functions the CLI and the reports print with. Parsing it is src/models/variant.ts.
import type { Variant, VariantChoice } from './spec.js';

/** The notation back; parseVariant(formatVariant(v)) gives v again (co preferred over s,
 * since co is what the user chose and s only its per-slot resolution). */
export function formatVariant(v: VariantChoice | Variant): string {
  switch (v.kind) {
    case 'std':
    case 'dw-pw':
      return v.kind;
    case 'dw-gpw':
    case 'dw-gpw-shuffle':
      return `${v.kind}:cg=${v.cg}`;
    case 'gc-shuffle':
      return `gc-shuffle:g=${v.g}`;
    case 'dw-scc':
      return v.co !== undefined ? `dw-scc:cg=${v.cg},co=${v.co}` : `dw-scc:cg=${v.cg},s=${v.s}`;
  }
}

/** One slot's setting as text; dw-scc shows the resolved channel stride (and co if given). */
export function slotText(v: Variant, withCo = true): string {
  if (v.kind !== 'dw-scc') return formatVariant(v);
  return `dw-scc:cg=${v.cg},s=${v.s}${withCo && v.co !== undefined ? `,co=${v.co}` : ''}`;
}

/** Per-slot settings, runs of equal neighbours collapsed: "0-5 dw-scc:cg=2,s=8; 6-17 std".
 * The overlap ratio co is left out unless asked for: the design label carries it. */
export function slotsText(variants: readonly Variant[], withCo = false): string {
  const texts = variants.map((v) => slotText(v, withCo));
  const parts: string[] = [];
  for (let i = 0; i < texts.length; ) {
    let j = i;
    while (j + 1 < texts.length && texts[j + 1] === texts[i]) j++;
    parts.push(`${i === j ? i : `${i}-${j}`} ${texts[i]}`);
    i = j + 1;
  }
  return parts.join('; ');
}
