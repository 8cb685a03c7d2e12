// Todo docs in the agent's workspace: Markdown task lists in Obsidian Tasks syntax, read fresh each run.
import { readdirSync, readFileSync, Stats, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import type { PriorityName } from '../priority.js';
import { cleanText, maxIdLength } from './text.js';
import type { Task, TaskStatus } from './types.js';
import { globMatcher } from '../glob.js';

const skipDirs = new Set(['node_modules', '.git', '.obsidian']);

/** Bounds on one workspace walk: a link to / or a huge tree must not stall a heartbeat. */
const maxDepth = 12;
const maxEntries = 20_000;
const maxDocs = 1_000;
const maxDocBytes = 4 * 1024 * 1024;

/**
 * The docs under `workspace` that match `globs`, as paths relative to it. Symbolic links are
 * followed (workspaces often link shared docs in); a directory already walked, which is how a link
 * loop shows itself, is not walked again, and a file reached twice counts once.
 */
export function findDocs(workspace: string, globs: string[], warnings: string[] = []): string[] {
  const patterns = globs.map(globMatcher);
  const matches = (rel: string) => patterns.some((p) => p.test(rel));
  const found: { rel: string; inode: string }[] = [];
  const walked = new Set<string>();
  let entriesSeen = 0;
  const walk = (dir: string, relDir: string, depth: number) => {
    if (depth > maxDepth || entriesSeen > maxEntries) return;
    let entries;
    try {
      const inode = statSync(dir);
      const key = `${inode.dev}:${inode.ino}`;
      if (walked.has(key)) return;
      walked.add(key);
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (++entriesSeen > maxEntries) {
        warnings.push(`docs: stopped looking after ${maxEntries} entries under the workspace; some docs may be missed`);
        return;
      }
      const full = join(dir, entry.name);
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      let target: Stats | Dirent = entry;
      if (entry.isSymbolicLink()) {
        try {
          target = statSync(full);
        } catch {
          if (matches(rel)) warnings.push(`docs: ${cleanText(rel, maxIdLength)} is a link to nothing`);
          continue;
        }
      }
      if (target.isDirectory()) {
        if (!skipDirs.has(entry.name)) walk(full, rel, depth + 1);
      } else if (target.isFile() && matches(rel)) {
        const inode = target instanceof Stats ? target : statSync(full, { throwIfNoEntry: false });
        found.push({ rel, inode: inode ? `${inode.dev}:${inode.ino}` : rel });
      }
    }
  };
  walk(workspace, '', 0);
  found.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const files = new Set<string>();
  return found.filter((f) => !files.has(f.inode) && files.add(f.inode)).map((f) => f.rel);
}

const statusByMark: Record<string, TaskStatus> = { ' ': 'todo', '/': 'in_progress', x: 'done', X: 'done', '-': 'done' };
const priorityByEmoji: [string, PriorityName][] = [
  ['🔺', 'urgent'],
  ['⏫', 'high'],
  ['🔼', 'normal'],
  ['🔽', 'low'],
  ['⏬', 'low'],
];
// dotAll: a U+2028 inside a title is text (cleaned later), not the end of the line.
const taskLine = /^\s*[-*+] \[([ /xX-])\] (.+)$/s;
// Obsidian Tasks fields: emoji then a value (dates, recurrence) stripped from the title. The
// patterns are built from strings: a regular expression literal with emoji in it would make the
// whole bundle a two-byte string, read and kept at twice the size on every start.
const idMark = '🆔';
const dependsMark = '⛔';
const dateMarks = '📅⏳🛫➕✅❌';
const repeatMark = '🔁';
const fieldPattern = new RegExp(
  String.raw`\s*(?:${idMark}\s*[\w-]+|${dependsMark}\s*[\w-]+(?:\s*,\s*[\w-]+)*|[${dateMarks}]\s*\d{4}-\d{2}-\d{2}|${repeatMark}\s*[^${dateMarks}${idMark}${dependsMark}]*|` +
    priorityByEmoji.map(([emoji]) => emoji).join('|') +
    ')',
  'gu',
);
const idField = new RegExp(String.raw`${idMark}\s*([\w-]+)`, 'u');
const dependsField = new RegExp(String.raw`${dependsMark}\s*([\w-]+(?:\s*,\s*[\w-]+)*)`, 'u');

/**
 * Letters and digits of the title, lower-cased, runs of anything else as one "-". ASCII titles (most)
 * by a loop: the Unicode tables \p{L} needs, and each regular expression's compile, cost every start.
 */
function slug(text: string): string {
  const lower = text.toLowerCase();
  let ascii = '';
  for (let i = 0; i < lower.length; i++) {
    const code = lower.charCodeAt(i);
    if (code > 0x7f)
      return lower
        .replace(/[^\p{L}\p{N}]+/gu, '-')
        .replace(/^-|-$/g, '')
        .slice(0, 60);
    const word = (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39);
    if (word) ascii += lower[i];
    else if (ascii !== '' && !ascii.endsWith('-')) ascii += '-';
  }
  return (ascii.endsWith('-') ? ascii.slice(0, -1) : ascii).slice(0, 60);
}

const fenceLine = /^\s*(`{3,}|~{3,})(.*)$/;

/**
 * Task lines of one doc. Lines inside fenced code blocks (``` or ~~~, closed by a fence of the same
 * character at least as long) and inside HTML comments are examples or notes, not tasks.
 */
export function parseTasks(text: string, file: string, mtime: number): Task[] {
  const tasks: Task[] = [];
  const fileId = cleanText(file, maxIdLength);
  let fence: string | undefined;
  let inComment = false;
  // CRLF and lone CR end lines too (a doc written on Windows or an old Mac).
  for (let line of text.includes('\r') ? text.split(/\r\n?|\n/) : text.split('\n')) {
    const fenceMatch = line.includes('```') || line.includes('~~~') ? fenceLine.exec(line) : null;
    if (fence !== undefined) {
      if (fenceMatch && fenceMatch[1]![0] === fence[0] && fenceMatch[1]!.length >= fence.length && !fenceMatch[2]!.trim()) fence = undefined;
      continue;
    }
    if (inComment) {
      // The rest of the line that closes a comment still belongs to it (CommonMark HTML block).
      if (line.includes('-->')) inComment = false;
      continue;
    }
    if (fenceMatch && !(fenceMatch[1]![0] === '`' && fenceMatch[2]!.includes('`'))) {
      fence = fenceMatch[1]!;
      continue;
    }
    if (line.includes('<!--')) {
      line = line.replace(/<!--[\s\S]*?-->/g, '');
      const open = line.indexOf('<!--');
      if (open >= 0) {
        inComment = true;
        line = line.slice(0, open);
      }
    }
    const match = taskLine.exec(line);
    if (!match) continue;
    const body = match[2]!;
    const id = body.includes(idMark) ? idField.exec(body)?.[1] : undefined;
    const deps = body.includes(dependsMark) ? dependsField.exec(body)?.[1] : undefined;
    const title = cleanText(body.replace(fieldPattern, ''));
    tasks.push({
      source: 'docs',
      id: id ?? `${fileId}#${slug(title)}`,
      title,
      status: statusByMark[match[1]!]!,
      priority: priorityByEmoji.find(([emoji]) => body.includes(emoji))?.[1] ?? 'normal',
      dependsOn: deps ? deps.split(',').map((d) => d.trim()) : [],
      updatedAt: mtime,
    });
  }
  return tasks;
}

/** Every task of the agent's docs; a doc that cannot be read is a warning, the others still count. */
export function readDocs(workspace: string, globs: string[]): { tasks: Task[]; warnings: string[] } {
  const warnings: string[] = [];
  const files = findDocs(workspace, globs, warnings);
  if (files.length > maxDocs) warnings.push(`docs: ${files.length} docs match; only the first ${maxDocs} were read`);
  const tasks: Task[] = [];
  for (const file of files.slice(0, maxDocs)) {
    const full = join(workspace, file);
    try {
      const stat = statSync(full);
      if (!stat.isFile()) continue; // replaced by something else since the walk
      if (stat.size > maxDocBytes) {
        warnings.push(`docs: ${cleanText(file, maxIdLength)} skipped: larger than ${maxDocBytes / 1024 / 1024} MiB`);
        continue;
      }
      for (const task of parseTasks(readFileSync(full, 'utf8'), file, stat.mtimeMs)) tasks.push(task);
    } catch (err) {
      warnings.push(`docs: ${cleanText(file, maxIdLength)} could not be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return { tasks, warnings };
}
