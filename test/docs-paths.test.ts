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

function namedPaths(text: string): string[] {
  const paths = (text.match(PATH_RE) ?? []).map((p) => p.replace(/\.+$/, ''));
  return [...new Set(paths)];
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

// A design document that is not in the repository: README.md (Variants, Cost conventions)
// and ARCHITECTURE.md hold what it said, and nothing cites it any more. (Built from two
// parts so that this file does not cite it either.)
const GONE_DOC = /\bDESIGN\.md\b/;
const GONE_NAME = 'DESIGN' + '.md';

/** Folders whose files must not cite the missing design document. */
const CITING_DIRS = ['src', 'test', 'bench', 'scripts', 'native'];

/** The text files below `dir` that people write (sources, scripts, pages, notes). */
function textFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return textFiles(p);
    return /\.(ts|js|mjs|cjs|py|sh|md|html|css|json|ya?ml|cc|h|cu|cuh)$/.test(f) ? [p] : [];
  });
}

test(`no source (TypeScript or native), test, benchmark or script cites ${GONE_NAME}, which is not in the repository`, () => {
  const citing = CITING_DIRS.flatMap((d) => textFiles(join(root, d)))
    .filter((f) => GONE_DOC.test(readFileSync(f, 'utf8')))
    .map((f) => relative(root, f));
  assert.ok(CITING_DIRS.every((d) => existsSync(join(root, d))));
  assert.deepEqual(citing, [], `files citing ${GONE_NAME} (cite README.md or ARCHITECTURE.md, or state the fact): ${citing.join(', ')}`);
});

test('the documents link only to files inside the repository, and never name the missing design document', () => {
  for (const doc of ['README.md', 'ARCHITECTURE.md', 'CONTRIBUTING.md', 'docs/cli.md']) {
    const text = read(doc);
    assert.doesNotMatch(text, GONE_DOC, `${doc} names ${GONE_NAME}, which is not in the repository`);
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

/** The layer table, in its order (ground floor first): `src/X/` (or `src/cli.ts`) -> the
 * layers it may import, at run time or by type. */
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

/** Every import of a file inside src/, as the file it names: static and dynamic, value and
 * type (`import type`, `export type ... from`, `import('...')` in a type): a type-only
 * import is erased at run time but is still a dependency. */
function srcImports(file: string, text = readFileSync(file, 'utf8')): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s[^'";]*?\sfrom\s+'([^']+)'/gms)) specs.push(m[1]!);
  for (const m of text.matchAll(/^import\s+'([^']+)'/gm)) specs.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) specs.push(m[1]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
}

const SHARED = new Set(['errors', 'version', 'index', 'issues']); // top-level files, importable from anywhere

test('ARCHITECTURE.md section 2: every import in src/, type-only ones included, follows the layer table', () => {
  const rules = layerRules();
  assert.ok(rules.size >= 10, `found only ${rules.size} rows in the layer table of ARCHITECTURE.md`);
  const broken: string[] = [];
  for (const file of tsFiles(join(root, 'src'))) {
    const from = layerOf(file);
    if (SHARED.has(from)) continue;
    const allowed = rules.get(from);
    if (!allowed) {
      broken.push(`${relative(root, file)}: layer "${from}" has no row in ARCHITECTURE.md section 2`);
      continue;
    }
    for (const target of srcImports(file)) {
      const to = layerOf(target);
      if (to === from || SHARED.has(to) || allowed.has('*') || allowed.has(to)) continue;
      broken.push(`${relative(root, file)} imports ${relative(root, target)} (${from} -> ${to})`);
    }
  }
  assert.deepEqual(broken, [], `imports that ARCHITECTURE.md section 2 does not allow (fix the import or the table):\n${broken.join('\n')}`);
});

test('ARCHITECTURE.md section 2: the layer table goes from the ground floor up (a row names only rows above it)', () => {
  const seen = new Set<string>();
  const upward: string[] = [];
  for (const [layer, allowed] of layerRules()) {
    for (const to of allowed) if (to !== '*' && !seen.has(to)) upward.push(`${layer} -> ${to}`);
    seen.add(layer);
  }
  assert.deepEqual(upward, [], `rows that name a layer below them (a circle between layers, or rows out of order):\n${upward.join('\n')}`);
});

/** The import cycles among `files`: each strongly connected group of two or more files
 * (Tarjan), or a file that imports itself, as sorted repository paths. */
function importCycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(relative(root, w));
    } while (w !== v);
    if (group.length > 1 || graph.get(v)!.includes(v)) cycles.push(group.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

test('no import cycle between files of src/ (type-only imports counted)', () => {
  const graph = new Map(tsFiles(join(root, 'src')).map((f) => [f, srcImports(f)] as const));
  assert.ok(graph.size > 50, `found only ${graph.size} files in src/`);
  const cycles = importCycles(graph).map((c) => c.join(' <-> '));
  assert.deepEqual(cycles, [], `files of src/ that import each other, directly or around a circle (move what both need into a module below them):\n${cycles.join('\n')}`);
});
