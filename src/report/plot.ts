// Accuracy against MACs (or measured latency) as a hand-written SVG (no plotting
// dependency): a log-scale cost axis, every finished candidate as a point, the accuracy/MACs Pareto front as a step line
// (accuracy held until the next front point's MACs), baselines as labelled squares.
import { paretoFront } from '../pareto/objectives.js';
import type { CandidateResult } from '../domain/candidate.js';
import { byMacs } from './summary.js';
import { formatCount } from './format.js';

export interface PlotOptions {
  title?: string;
  /** the cost on the x axis: MACs (default) or measured latency in ms */
  x?: 'macs' | 'latency';
  width?: number;
  height?: number;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const f = (x: number) => (Math.round(x * 100) / 100).toString();

export function plotSvg(candidates: readonly CandidateResult[], opts: PlotOptions = {}): string {
  const W = opts.width ?? 820;
  const H = opts.height ?? 520;
  const m = { left: 70, right: 30, top: 44, bottom: 56 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const byLatency = opts.x === 'latency';
  const xv = (c: CandidateResult): number => (byLatency ? (c.latency ?? NaN) : c.macs);
  const xText = (c: CandidateResult) => (byLatency ? `${xv(c).toFixed(3)} ms` : `${formatCount(c.macs)} MACs`);
  const pts = candidates.filter((c) => xv(c) > 0 && Number.isFinite(c.accuracy));
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(opts.title ?? `accuracy vs ${byLatency ? 'latency' : 'MACs'}`)}</text>`);
  if (pts.length === 0) {
    out.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">${byLatency ? 'no finished candidate with a measured latency' : 'no finished candidates yet'}</text>`);
    out.push('</svg>');
    return `${out.join('\n')}\n`;
  }
  // x: whole decades around the data; y: accuracy range padded by 5%, inside [0,1]
  let lo = Math.floor(Math.log10(Math.min(...pts.map(xv))));
  let hi = Math.ceil(Math.log10(Math.max(...pts.map(xv))));
  if (hi <= lo) hi = lo + 1;
  const amin = Math.min(...pts.map((p) => p.accuracy));
  const amax = Math.max(...pts.map((p) => p.accuracy));
  const pad = Math.max(0.01, (amax - amin) * 0.08);
  let ylo = Math.max(0, amin - pad);
  let yhi = Math.min(1, amax + pad);
  if (yhi <= ylo) [ylo, yhi] = [Math.max(0, ylo - 0.05), Math.min(1, yhi + 0.05)];
  const X = (macs: number) => m.left + ((Math.log10(macs) - lo) / (hi - lo)) * pw;
  const Y = (acc: number) => m.top + (1 - (acc - ylo) / (yhi - ylo)) * ph;

  // axes and grid
  out.push('<g class="axes" stroke="#999" fill="none">');
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}"/>`);
  out.push('</g>');
  out.push('<g class="xticks" fill="#333" text-anchor="middle">');
  for (let d = lo; d <= hi; d++) {
    const x = X(10 ** d);
    out.push(`<line x1="${f(x)}" y1="${m.top}" x2="${f(x)}" y2="${m.top + ph}" stroke="#eee"/>`);
    out.push(`<text x="${f(x)}" y="${m.top + ph + 18}">${byLatency ? `${Number((10 ** d).toPrecision(3))} ms` : formatCount(10 ** d)}</text>`);
    if (d < hi) {
      for (let k = 2; k < 10; k++) {
        const xm = X(k * 10 ** d);
        out.push(`<line x1="${f(xm)}" y1="${m.top + ph}" x2="${f(xm)}" y2="${m.top + ph - 4}" stroke="#999"/>`);
      }
    }
  }
  out.push('</g>');
  const span = yhi - ylo;
  const step = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2].find((s) => span / s <= 8) ?? 0.25;
  out.push('<g class="yticks" fill="#333" text-anchor="end">');
  for (let v = Math.ceil(ylo / step) * step; v <= yhi + 1e-12; v += step) {
    const y = Y(v);
    out.push(`<line x1="${m.left}" y1="${f(y)}" x2="${m.left + pw}" y2="${f(y)}" stroke="#eee"/>`);
    out.push(`<text x="${m.left - 6}" y="${f(y + 4)}">${(v * 100).toFixed(step < 0.01 ? 1 : 0)}%</text>`);
  }
  out.push('</g>');
  out.push(`<text x="${m.left + pw / 2}" y="${H - 14}" text-anchor="middle">${byLatency ? 'latency per image, ms (our engine, batch 1, 1 thread; log scale)' : 'MACs per image (log scale)'}</text>`);
  out.push(
    `<text x="18" y="${m.top + ph / 2}" text-anchor="middle" transform="rotate(-90 18 ${m.top + ph / 2})">accuracy</text>`,
  );

  // every candidate
  out.push('<g class="candidates" fill="#9aa7b8" fill-opacity="0.8">');
  for (const p of pts) {
    if (p.baseline) continue;
    out.push(
      `<circle cx="${f(X(xv(p)))}" cy="${f(Y(p.accuracy))}" r="3.5" data-hash="${p.hash}"><title>${escapeXml(
        `${p.label}: ${(p.accuracy * 100).toFixed(2)}%, ${xText(p)}`,
      )}</title></circle>`,
    );
  }
  out.push('</g>');

  // the accuracy/MACs front as a step line, and its points
  const front = paretoFront(pts, ['accuracy', byLatency ? 'latency' : 'macs']).sort((a, b) => xv(a) - xv(b) || byMacs(a, b));
  if (front.length > 0) {
    let d = `M ${f(X(xv(front[0])))} ${f(Y(front[0].accuracy))}`;
    for (let i = 1; i < front.length; i++) d += ` H ${f(X(xv(front[i])))} V ${f(Y(front[i].accuracy))}`;
    d += ` H ${f(m.left + pw)}`;
    out.push(`<path class="front" d="${d}" fill="none" stroke="#1f6fd1" stroke-width="2"/>`);
    out.push('<g class="front-points" fill="#1f6fd1">');
    for (const p of front) {
      out.push(
        `<circle cx="${f(X(xv(p)))}" cy="${f(Y(p.accuracy))}" r="4.5" data-hash="${p.hash}"><title>${escapeXml(
          `front: ${p.label}: ${(p.accuracy * 100).toFixed(2)}%, ${xText(p)}`,
        )}</title></circle>`,
      );
    }
    out.push('</g>');
  }

  // baselines, labelled; labels alternate above and below to limit overlaps
  const bases = pts.filter((p) => p.baseline).sort(byMacs);
  out.push('<g class="baselines">');
  bases.forEach((b, i) => {
    const x = X(xv(b));
    const y = Y(b.accuracy);
    const dy = i % 2 === 0 ? -9 : 17;
    out.push(
      `<rect x="${f(x - 5)}" y="${f(y - 5)}" width="10" height="10" fill="#d9480f" data-hash="${b.hash}"><title>${escapeXml(
        `baseline ${b.label}: ${(b.accuracy * 100).toFixed(2)}%, ${xText(b)}`,
      )}</title></rect>`,
    );
    const anchor = x > m.left + pw * 0.8 ? 'end' : 'start';
    out.push(
      `<text class="baseline-label" x="${f(anchor === 'end' ? x - 7 : x + 7)}" y="${f(y + dy)}" text-anchor="${anchor}" fill="#d9480f">${escapeXml(b.label)}</text>`,
    );
  });
  out.push('</g>');

  // legend
  const lx = m.left + 10;
  const ly = m.top + 12;
  out.push('<g class="legend" font-size="11">');
  out.push(`<circle cx="${lx}" cy="${ly}" r="3.5" fill="#9aa7b8"/><text x="${lx + 8}" y="${ly + 4}">candidate</text>`);
  out.push(`<line x1="${lx + 75}" y1="${ly}" x2="${lx + 95}" y2="${ly}" stroke="#1f6fd1" stroke-width="2"/><text x="${lx + 100}" y="${ly + 4}">Pareto front</text>`);
  out.push(`<rect x="${lx + 180}" y="${ly - 5}" width="10" height="10" fill="#d9480f"/><text x="${lx + 195}" y="${ly + 4}">baseline</text>`);
  out.push('</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
