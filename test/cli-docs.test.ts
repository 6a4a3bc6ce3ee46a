// docs/cli.md is generated from the commander program (scripts/cli-docs.ts, `npm run docs`).
// These tests keep it true: the committed file must equal what the program generates now,
// the generator must not depend on the environment, terminal or working directory it runs
// in, and every command and option of the program must have its row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli.js';
import { CLI_DOCS_PATH, renderCliDocs } from '../scripts/cli-docs.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(root, 'scripts', 'cli-docs.ts');

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}
const fullName = (cmd: Command): string => (cmd.parent ? `${fullName(cmd.parent)} ${cmd.name()}` : cmd.name());

/** Runs the generator in a child process with the given environment and working directory. */
function runGenerator(args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  // tsx by its URL: `--import tsx` would be resolved from the (foreign) working directory
  return spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), script, ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

test('docs/cli.md is what the program generates (run `npm run docs` after changing the CLI)', () => {
  const committed = readFileSync(CLI_DOCS_PATH, 'utf8');
  const generated = renderCliDocs();
  if (committed !== generated) {
    const a = committed.split('\n');
    const b = generated.split('\n');
    const line = a.findIndex((l, i) => l !== b[i]);
    assert.fail(
      `docs/cli.md is out of date with the CLI: run \`npm run docs\` and commit docs/cli.md.\n` +
        `first difference at line ${line + 1}:\n  committed: ${a[line] ?? '(end of file)'}\n  generated: ${b[line] ?? '(end of file)'}`,
    );
  }
});

test('every command and every option of the program has its row in docs/cli.md', () => {
  const doc = renderCliDocs();
  const program = buildProgram();
  for (const cmd of allCommands(program)) {
    const name = fullName(cmd);
    const start = doc.indexOf(`\n## ${name}\n`);
    assert.ok(start >= 0, `no section for ${name}`);
    const end = doc.indexOf('\n## ', start + 1);
    const section = doc.slice(start, end < 0 ? undefined : end);
    assert.ok(doc.includes(`[\`${name}\`](#${name.replace(/ /g, '-')})`), `${name} missing from the index`);
    for (const o of cmd.options) {
      assert.ok(section.includes(`| \`${o.flags}\` |`), `${name}: option ${o.flags} has no row`);
    }
  }
});

test('the generator ignores the environment, terminal width and working directory; --check says how to fix a stale file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-cli-docs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'cli.md');
  // a different default database, store, terminal width and cwd must change nothing
  const env = { DSXPLORE_DB: join(dir, 'elsewhere.db'), DSXPLORE_STORE: 'sqlite:/tmp/other.db', COLUMNS: '37', FORCE_COLOR: '1' };
  const written = runGenerator(['--out', out], env, dir);
  assert.equal(written.status, 0, written.stderr);
  assert.equal(readFileSync(out, 'utf8'), readFileSync(CLI_DOCS_PATH, 'utf8'));
  assert.equal(runGenerator(['--check', '--out', out], env, dir).status, 0);

  writeFileSync(out, readFileSync(out, 'utf8').replace('--resume', '--continue'));
  const stale = runGenerator(['--check', '--out', out], {}, root);
  assert.equal(stale.status, 1);
  assert.match(stale.stderr, /out of date.*run: npm run docs/);
  assert.equal(runGenerator(['--bogus'], {}, root).status, 2);
});
