// The command-line reference docs/cli.md, generated from the commander program itself
// (buildProgram() in src/cli.ts), so that the reference cannot drift from the code:
// test/cli-docs.test.ts regenerates it and fails when the committed file differs.
//
//   npm run docs              rewrite docs/cli.md
//   npm run docs -- --check   exit 1 (and say so) when docs/cli.md is out of date
//   --out FILE                write (or check) FILE instead of docs/cli.md
//
// The output depends only on the program: no terminal width (nothing is wrapped), no
// colour, and the environment variables that feed help texts (DSXPLORE_DB names the
// default database in `sweep --db`) are unset while the program is built.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Argument, Command, Help, Option } from 'commander';
import { buildProgram } from '../src/cli.js';

export const CLI_DOCS_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'cli.md');

/** Environment variables that change what the program's help says. */
const HELP_ENV = ['DSXPLORE_DB', 'DSXPLORE_STORE'];

/** Builds the program with HELP_ENV unset, restoring the environment afterwards. */
function programForDocs(): Command {
  const saved = HELP_ENV.map((k) => [k, process.env[k]] as const);
  for (const k of HELP_ENV) delete process.env[k];
  try {
    return buildProgram();
  } finally {
    for (const [k, v] of saved) if (v !== undefined) process.env[k] = v;
  }
}

// Markdown table cells: a `|` would end the cell, a line break the row.
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const code = (s: string) => `\`${s}\``;

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Every command below `cmd`, depth first, in the order they were registered. */
function descendants(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...descendants(c)]);
}

function anchor(cmd: Command): string {
  return fullName(cmd).toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
}

/** The default column: what commander would show, or "required" for a mandatory option. */
function optionDefault(o: Option): string {
  if (o.mandatory) return 'required';
  if (o.defaultValue === undefined) return '';
  // a boolean flag's default (or a negated flag's implicit true) says nothing to a user
  const takesValue = o.required || o.optional;
  if (!takesValue && typeof o.defaultValue !== 'boolean') return '';
  return code(o.defaultValueDescription ?? (typeof o.defaultValue === 'string' ? o.defaultValue : JSON.stringify(o.defaultValue)));
}

function optionDescription(o: Option): string {
  const extra: string[] = [];
  if (o.argChoices) extra.push(`one of ${o.argChoices.map(code).join(', ')}`);
  if (o.envVar) extra.push(`environment: ${code(o.envVar)}`);
  return [o.description, extra.length ? `(${extra.join('; ')})` : ''].filter(Boolean).join(' ');
}

function argumentDescription(a: Argument): string {
  const extra: string[] = [];
  if (a.argChoices) extra.push(`one of ${a.argChoices.map(code).join(', ')}`);
  if (a.defaultValue !== undefined) extra.push(`default: ${code(String(a.defaultValue))}`);
  return [a.description, extra.length ? `(${extra.join('; ')})` : ''].filter(Boolean).join(' ');
}

/** Text added with addHelpText('after'), exactly as `--help` prints it after the options. */
function afterHelp(cmd: Command): string {
  let text = '';
  (cmd as unknown as NodeJS.EventEmitter).emit('afterHelp', { error: false, command: cmd, write: (s: string) => (text += s) });
  return text.replace(/^\n+/, '').trimEnd();
}

/** One command's section; the root's subcommands are already in the index at the top. */
function commandSection(cmd: Command, help: Help): string[] {
  const out: string[] = [`## ${fullName(cmd)}`, ''];
  if (cmd.description()) out.push(cmd.description(), '');
  out.push('```', help.commandUsage(cmd), '```', '');
  const args = cmd.registeredArguments;
  if (args.length) {
    out.push('| argument | description |', '|---|---|');
    for (const a of args) {
      const term = a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`;
      out.push(`| ${code(term)} | ${cell(argumentDescription(a))} |`);
    }
    out.push('');
  }
  const subs = cmd.parent ? cmd.commands : [];
  if (subs.length) {
    out.push('| subcommand | description |', '|---|---|');
    for (const s of subs) out.push(`| [${code(s.name())}](#${anchor(s)}) | ${cell(s.summary() || s.description())} |`);
    out.push('');
  }
  const options = help.visibleOptions(cmd);
  if (options.length) {
    out.push('| option | default | description |', '|---|---|---|');
    for (const o of options) out.push(`| ${code(o.flags)} | ${optionDefault(o)} | ${cell(optionDescription(o))} |`);
    out.push('');
  }
  const after = afterHelp(cmd);
  if (after) out.push('```text', after, '```', '');
  return out;
}

/** docs/cli.md as the program defines it now. */
export function renderCliDocs(program: Command = programForDocs()): string {
  const help = program.createHelp();
  const commands = descendants(program);
  const out: string[] = [
    '# dsxplore command-line reference',
    '',
    '<!-- Generated from the commander program (src/cli.ts) by scripts/cli-docs.ts: do not edit.',
    '     Run `npm run docs` after changing a command or an option; test/cli-docs.test.ts fails',
    '     while this file differs from what the program generates. -->',
    '',
    'Every command prints the same text with `--help`. Exit codes: 0 success, 1 an outcome',
    '(a training that diverged, a native engine that does not load), 2 a usage error (bad flag,',
    'bad config, unknown name); the message says which field and what is allowed.',
    '',
    '| command | description |',
    '|---|---|',
    ...commands.map((c) => `| [${code(fullName(c))}](#${anchor(c)}) | ${cell(c.summary() || c.description())} |`),
    '',
    ...commandSection(program, help),
    ...commands.flatMap((c) => commandSection(c, help)),
  ];
  return `${out.join('\n').trimEnd()}\n`;
}

async function cli(argv: string[]): Promise<number> {
  const outAt = argv.indexOf('--out');
  const path = outAt >= 0 ? argv[outAt + 1] : CLI_DOCS_PATH;
  const unknown = argv.filter((a, i) => a !== '--check' && (outAt < 0 || (i !== outAt && i !== outAt + 1)));
  if (!path || unknown.length) {
    process.stderr.write('usage: node --import tsx scripts/cli-docs.ts [--check] [--out FILE]\n');
    return 2;
  }
  const text = renderCliDocs();
  if (argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(path, 'utf8');
    } catch {
      // a missing file is simply out of date
    }
    if (committed === text) return 0;
    process.stderr.write(`${path} is out of date with the CLI; run: npm run docs\n`);
    return 1;
  }
  writeFileSync(path, text);
  process.stderr.write(`wrote ${path}\n`);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await cli(process.argv.slice(2));
