// Benchmark entry point: `npm run bench` runs every suite, `npm run bench -- ops cost` some.
// Each suite is bench/<name>.ts exporting `run(args: string[]): Promise<object>`; its result
// is written as JSON to bench/results/<name>-<timestamp>.json with the machine description.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { machineDescription } from './machine.js';

const here = dirname(fileURLToPath(import.meta.url));
const suites = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'machine.ts'].includes(f))
  .map((f) => f.slice(0, -3))
  .sort();

const args = process.argv.slice(2);
const chosen: string[] = [];
const flags: string[] = [];
// `--flag value` is read as `--flag=value` when the value is not a suite's name
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const prev = args[i - 1];
  if (a.startsWith('-')) flags.push(a);
  else if (suites.includes(a)) chosen.push(a);
  else if (prev !== undefined && prev.startsWith('-') && !prev.includes('=')) flags[flags.length - 1] = `${prev}=${a}`;
  else {
    console.error(`unknown benchmark suite "${a}"; suites: ${suites.join(', ')}`);
    process.exit(2);
  }
}
const machine = machineDescription();
// with --json a suite's standard output is its JSON alone: the runner's lines go to stderr
const say = flags.includes('--json') ? (s: string) => console.error(s) : (s: string) => console.log(s);
say(`machine: ${machine.summary}`);
mkdirSync(join(here, 'results'), { recursive: true });
for (const name of chosen.length ? chosen : suites) {
  const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as {
    run: (flags: string[]) => Promise<object>;
  };
  say(`\n== ${name}`);
  const result = await mod.run(flags);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const out = join(here, 'results', `${name}-${stamp}.json`);
  writeFileSync(out, JSON.stringify({ suite: name, machine, date: new Date().toISOString(), result }, null, 2));
  say(`wrote ${out}`);
}
