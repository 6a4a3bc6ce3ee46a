// The maintainers' documents stay true of the code: every repository path that
// ARCHITECTURE.md and CONTRIBUTING.md name exists, the documents link only to files inside
// the repository, and the import rules of ARCHITECTURE.md section 2 (its layer table) hold
// for every run-time import in src/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

/** Paths a fresh checkout does not have until it is built or used. */
const GENERATED = new Set(['results/dsxplore.db']);

// a path is a token that starts at a top-level folder of the repository, or a root file
const PATH_RE =
  /(?<![\w./-])(?:\.ci|bench|bin|build|configs|docs|native|results|scripts|src|test)\/[\w./-]*|(?<![\w./-])(?:[A-Z]+\.md|package\.json|CMakeLists\.txt|tsconfig\.json)(?![\w/-])/g;

// DESIGN.md is outside the repository; source comments cite its sections, and the documents
// may explain those citations (the link test below refuses any other mention)
function namedPaths(text: string): string[] {
  const paths = (text.match(PATH_RE) ?? []).map((p) => p.replace(/\.+$/, ''));
  return [...new Set(paths)].filter((p) => p !== 'DESIGN.md');
}

for (const doc of ['ARCHITECTURE.md', 'CONTRIBUTING.md']) {
  test(`${doc}: every repository path it names exists`, () => {
    const paths = namedPaths(read(doc));
    assert.ok(paths.length > 20, `${doc} names only ${paths.length} paths; is the pattern broken?`);
    // a placeholder file name (src/models/NAME.ts) stands for a file to create: its folder must exist
    const target = (p: string) => (/NAME[^/]*$/.test(p) ? dirname(p) : p);
    const missing = paths.filter((p) => !GENERATED.has(p) && !existsSync(join(root, target(p))));
    assert.deepEqual(missing, [], `${doc} names paths that do not exist: ${missing.join(', ')}`);
  });
}

test('the documents link only to files inside the repository, and no longer to DESIGN.md', () => {
  for (const doc of ['README.md', 'ARCHITECTURE.md', 'CONTRIBUTING.md', 'docs/cli.md']) {
    const text = read(doc);
    assert.doesNotMatch(text, /DESIGN\.md\b(?!\s+section)/, `${doc} points to DESIGN.md, which is not in the repository`);
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?:|mailto:|#)/.test(target!)) continue;
      const file = resolve(root, dirname(doc), target!.split('#')[0]!);
      assert.ok(!relative(root, file).startsWith('..'), `${doc} links outside the repository: ${target}`);
      assert.ok(existsSync(file), `${doc} links to a missing file: ${target}`);
    }
  }
  assert.match(read('README.md'), /\]\(ARCHITECTURE\.md\)[^]*\]\(CONTRIBUTING\.md\)|\]\(CONTRIBUTING\.md\)[^]*\]\(ARCHITECTURE\.md\)/);
  assert.match(read('README.md'), /\]\(docs\/cli\.md\)/);
});

// ---- ARCHITECTURE.md section 2 against the imports of src/ ----

/** The layer table: `src/X/` (or `src/cli.ts`) -> the layers it may import at run time. */
function layerRules(): Map<string, Set<string>> {
  const text = read('ARCHITECTURE.md');
  const section = text.slice(text.indexOf('## 2.'), text.indexOf('## 3.'));
  const rules = new Map<string, Set<string>>();
  for (const m of section.matchAll(/^\| `src\/([\w.-]+)\/?` \|[^|]*\| ([^|]*) \|$/gm)) {
    const allowed = m[2]!.trim();
    const names = allowed === '(nothing)' ? [] : allowed === 'any layer' ? ['*'] : allowed.split(/,\s*/);
    rules.set(m[1]!.replace(/\.ts$/, ''), new Set(names));
  }
  return rules;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The layer a src/ file belongs to: its top folder, or the file name for top-level files. */
function layerOf(file: string): string {
  const rel = relative(join(root, 'src'), file).split('/');
  return rel.length > 1 ? rel[0]! : rel[0]!.replace(/\.ts$/, '');
}

/** Run-time imports of a file (static and dynamic; `import type` and `export type` excluded). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gms)) {
    if (!m[2]) specs.push(m[3]!);
  }
  for (const m of text.matchAll(/\bimport\('([^']+)'\)/g)) specs.push(m[1]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
}

test('ARCHITECTURE.md section 2: every run-time import in src/ follows the layer table', () => {
  const rules = layerRules();
  assert.ok(rules.size >= 10, `found only ${rules.size} rows in the layer table of ARCHITECTURE.md`);
  const shared = new Set(['errors', 'version', 'index', 'issues']); // top-level files, importable from anywhere
  const broken: string[] = [];
  for (const file of tsFiles(join(root, 'src'))) {
    const from = layerOf(file);
    if (shared.has(from)) continue;
    const allowed = rules.get(from);
    if (!allowed) {
      broken.push(`${relative(root, file)}: layer "${from}" has no row in ARCHITECTURE.md section 2`);
      continue;
    }
    for (const target of runtimeImports(file)) {
      const to = layerOf(target);
      if (to === from || shared.has(to) || allowed.has('*') || allowed.has(to)) continue;
      broken.push(`${relative(root, file)} imports ${relative(root, target)} (${from} -> ${to})`);
    }
  }
  assert.deepEqual(broken, [], `imports that ARCHITECTURE.md section 2 does not allow (fix the import or the table):\n${broken.join('\n')}`);
});
