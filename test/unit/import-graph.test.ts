// The shape of src/ as a test: no import cycles, and only the edge of the program talks to commander,
// chalk or the global `process`. A new cycle or a new edge use fails here with the path that made it.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const src = join(root, 'src');

/** Every .ts file under src/, as a path relative to the repository (src/a/b.ts). */
function sourceFiles(dir = src): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [relative(root, path)] : [];
  });
}

/**
 * The code of a module with comments and the text of string, template and regex literals blanked
 * (a template's `${...}` stays code), line breaks kept so line numbers still hold.
 */
export function codeOnly(text: string): string {
  const out = text.split('');
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  // Each open `${` of a template: how many `{` deep the code inside it is.
  const templates: number[] = [];
  let i = 0;
  let previous = '';
  const template = (from: number): number => {
    // From inside a template's text to its end (returns the index after the closing `) or to a `${`.
    let j = from;
    while (j < text.length && text[j] !== '`' && !(text[j] === '$' && text[j + 1] === '{')) j += text[j] === '\\' ? 2 : 1;
    blank(from, j);
    if (text[j] === '`') return j + 1;
    templates.push(0);
    return j + 2;
  };
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      blank(i, end < 0 ? text.length : end);
      i = end < 0 ? text.length : end;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2) + 2;
      blank(i, end);
      i = end;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      blank(i + 1, j);
      i = j + 1;
      previous = c;
    } else if (c === '`') {
      i = template(i + 1);
      previous = '`';
    } else if (c === '/' && (previous === '' || '(,=:[!&|?{};+-*%<>~^'.includes(previous))) {
      // A regex literal: to the closing / outside a [class].
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== '\n' && (inClass || text[j] !== '/')) {
        if (text[j] === '[') inClass = true;
        else if (text[j] === ']') inClass = false;
        j += text[j] === '\\' ? 2 : 1;
      }
      blank(i + 1, j);
      i = j + 1;
      previous = '/';
    } else {
      if (templates.length > 0 && c === '{') templates[templates.length - 1]! += 1;
      if (templates.length > 0 && c === '}') {
        if (templates[templates.length - 1] === 0) {
          templates.pop();
          i = template(i + 1);
          previous = '`';
          continue;
        }
        templates[templates.length - 1]! -= 1;
      }
      if (!/\s/.test(c)) previous = /[\w$)\]]/.test(c) ? 'x' : c;
      i += 1;
    }
  }
  return out.join('');
}

export interface Import {
  specifier: string;
  /** Erased at compile time (`import type`, `export type`, or every name marked `type`). */
  typeOnly: boolean;
}

/** The imports of one module: static imports and re-exports, `await import('...')`, and `require('...')`. */
export function importsOf(text: string): Import[] {
  const found: Import[] = [];
  // Static: `import x from '...'`, `import { a, type B } from '...'`, `import '...'`, `export { a } from '...'`, `export * from '...'`.
  const statics = /^\s*(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s*['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(statics)) {
    if (m[5]) {
      found.push({ specifier: m[5], typeOnly: false });
      continue;
    }
    const clause = m[3] ?? '';
    const braces = /^\{([\s\S]*)\}$/.exec(clause.trim());
    // `import { type A, type B } from` is erased too (verbatimModuleSyntax keeps `import {}` only for side effects; we have none).
    const allTypes =
      braces !== null &&
      braces[1]!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .every((s) => s.startsWith('type '));
    found.push({ specifier: m[4]!, typeOnly: m[2] !== undefined || allTypes });
  }
  for (const m of text.matchAll(/\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push({ specifier: m[1]!, typeOnly: false });
  return found;
}

/** Resolves `./x.js` from src/a/b.ts to src/a/x.ts; undefined for packages and node: modules. */
function resolveLocal(from: string, specifier: string, files: Set<string>): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = join(dirname(from), specifier).replace(/\.js$/, '');
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) if (files.has(candidate)) return candidate;
  throw new Error(`${from}: import '${specifier}' names no file in src/`);
}

/** The import graph: file -> files it loads when it runs (with `types`, also the files it names types from). */
export function importGraph(files: string[], read: (file: string) => string, types = false): Map<string, string[]> {
  const set = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = importsOf(read(file))
      .filter((i) => types || !i.typeOnly)
      .map((i) => resolveLocal(file, i.specifier, set))
      .filter((t): t is string => t !== undefined);
    graph.set(file, [...new Set(targets)].sort());
  }
  return graph;
}

/** Every elementary cycle found by a depth-first search, each once (as the path that closes it). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = [...stack.slice(stack.indexOf(next)), next];
        const key = [...cycle.slice(0, -1)].sort().join(' ');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

/**
 * The edge of the program: the only modules that may use commander or chalk, or reach the global
 * `process`. Everything else (core) receives env, clock, IO and a process runner from its caller.
 */
const edge: Record<string, string> = {
  'src/cli.ts': 'the commander program and main()',
  'src/commands/': 'commands parse options, call core and format output',
  'src/io.ts': 'the real IO: stdout, stderr, stdin, env, cwd and the clock of this process',
  'src/proc.ts': 'signals process groups (a dispatch left running), reads /proc start marks',
  'src/process/': 'the execa runner: every child claw starts; it kills process groups and passes SIGINT/SIGTERM on to a foreground command',
  'src/output/': 'the output layer: chalk (output/chalk.ts, loaded only when colour is on)',
  'src/store/sqlite-driver.ts':
    "the SQLite seam: picks node:sqlite or better-sqlite3 by process.version, hushes node:sqlite's ExperimentalWarning (process.emitWarning) while it loads, defaults to process.env, names its probe file by pid",
  'src/host.ts': 'who this process is: pid, platform, Node version, monotonic clock, whether a pid lives',
};

function isEdge(file: string): boolean {
  return Object.keys(edge).some((prefix) => (prefix.endsWith('/') ? file.startsWith(prefix) : file === prefix));
}

describe('the architecture of src/', () => {
  const files = sourceFiles();
  const texts = new Map(files.map((f) => [f, readFileSync(join(root, f), 'utf8')]));
  const read = (f: string) => texts.get(f)!;

  it('has no import cycle (type-only imports aside)', () => {
    const cycles = findCycles(importGraph(files, read));
    expect(cycles.map((c) => c.join(' -> '))).toEqual([]);
  });

  it('has no cycle through type-only imports either (the type knots stay cut)', () => {
    const cycles = findCycles(importGraph(files, read, true));
    expect(cycles.map((c) => c.join(' -> '))).toEqual([]);
  });

  it('leaves the heartbeat to its commands: nothing else in core imports src/heartbeat/', () => {
    // src/status/ is the status command's document: it reports each agent's health (heartbeat/health.ts).
    const allowed = ['src/heartbeat/', 'src/commands/', 'src/status/'];
    const graph = importGraph(files, read, true);
    const offenders = [...graph].flatMap(([from, targets]) =>
      allowed.some((prefix) => from.startsWith(prefix)) ? [] : targets.filter((t) => t.startsWith('src/heartbeat/')).map((t) => `${from} -> ${t}`),
    );
    expect(offenders).toEqual([]);
  });

  it('finds a cycle when one is added (the check can fail)', () => {
    const withCycle = (f: string) => (f === 'src/errors.ts' ? `${read(f)}\nimport { main } from './cli.js';\n` : read(f));
    const cycles = findCycles(importGraph(files, withCycle));
    expect(cycles.some((c) => c.includes('src/errors.ts') && c.includes('src/cli.ts'))).toBe(true);
    // A type-only import closes no cycle at run time.
    const typeOnly = (f: string) => (f === 'src/errors.ts' ? `${read(f)}\nimport type { Context } from './commands/shared/context.js';\n` : read(f));
    expect(findCycles(importGraph(files, typeOnly))).toEqual([]);
    expect(findCycles(importGraph(files, typeOnly, true)).some((c) => c.includes('src/errors.ts'))).toBe(true);
  });

  it('reads every kind of import the code uses', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "import { type C, type D } from './c.js';",
      "import { type E, f } from './e.js';",
      "export { g } from './g.js';",
      "export type { H } from './h.js';",
      "export * from './i.js';",
      "import './j.js';",
      "const k = await import('./k.js');",
      'import {\n  l,\n  m,\n} from "./l.js";',
    ].join('\n');
    expect(importsOf(text)).toEqual([
      { specifier: './a.js', typeOnly: false },
      { specifier: './b.js', typeOnly: true },
      { specifier: './c.js', typeOnly: true },
      { specifier: './e.js', typeOnly: false },
      { specifier: './g.js', typeOnly: false },
      { specifier: './h.js', typeOnly: true },
      { specifier: './i.js', typeOnly: false },
      { specifier: './j.js', typeOnly: false },
      { specifier: './l.js', typeOnly: false },
      { specifier: './k.js', typeOnly: false },
    ]);
  });

  it('tells code from comments and literals', () => {
    const text =
      "const a = process.env; // process.pid\nconst b = `a process ${process.pid} {${f({ x: 'process' })}}`; /* process */ const c = /process'/;\nconst d = 'it\\'s a process'; e(process);";
    const lines = codeOnly(text)
      .split('\n')
      .map((l) => (l.match(/(?<![.\w$])process(?![\w$])/g) ?? []).length);
    expect(lines).toEqual([1, 1, 1]);
    expect(codeOnly(text).length).toBe(text.length);
  });

  it('keeps commander and chalk in the commands', () => {
    const offenders = files.filter((f) => !isEdge(f) && importsOf(read(f)).some((i) => /^(commander|chalk)(\/|$)/.test(i.specifier)));
    expect(offenders).toEqual([]);
  });

  it('keeps the global process at the edge: core gets env, clock and IO from its caller', () => {
    // Code only (comments and strings blanked): `process` as a value, e.g. process.env, process.pid, `= process`.
    // Type positions (NodeJS.ProcessEnv) do not match: the rule is on the identifier `process` not preceded by `.`.
    const offenders = files
      .filter((f) => !isEdge(f))
      .flatMap((f) =>
        codeOnly(read(f))
          .split('\n')
          .flatMap((line, i) => (/(?<![.\w$])process(?![\w$])/.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(offenders).toEqual([]);
  });

  it('names only modules that exist as the edge', () => {
    for (const prefix of Object.keys(edge)) {
      expect(
        files.some((f) => (prefix.endsWith('/') ? f.startsWith(prefix) : f === prefix)),
        prefix,
      ).toBe(true);
    }
  });
});
