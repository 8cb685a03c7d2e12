// Todo docs in the agent's workspace: Markdown task lists in Obsidian Tasks syntax, read fresh each run.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { PriorityName } from '../priority.js';
import type { Task, TaskStatus } from './types.js';

const skipDirs = new Set(['node_modules', '.git', '.obsidian']);

/** `**` spans directories, `*` and `?` stay within one path segment. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      source += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export function findDocs(workspace: string, globs: string[]): string[] {
  const patterns = globs.map(globToRegExp);
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 12) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!skipDirs.has(entry.name)) walk(full, depth + 1);
      } else if (entry.isFile()) {
        const rel = relative(workspace, full).split(sep).join('/');
        if (patterns.some((p) => p.test(rel))) found.push(rel);
      }
    }
  };
  walk(workspace, 0);
  return found.sort();
}

const statusByMark: Record<string, TaskStatus> = { ' ': 'todo', '/': 'in_progress', x: 'done', X: 'done', '-': 'done' };
const priorityByEmoji: [string, PriorityName][] = [
  ['🔺', 'urgent'],
  ['⏫', 'high'],
  ['🔼', 'normal'],
  ['🔽', 'low'],
  ['⏬', 'low'],
];
const taskLine = /^\s*[-*+] \[([ /xX-])\] (.+)$/;
// Obsidian Tasks fields: emoji then a value (dates, recurrence) stripped from the title.
const fieldPattern = /\s*(?:🆔\s*[\w-]+|⛔\s*[\w-]+(?:\s*,\s*[\w-]+)*|[📅⏳🛫➕✅❌]\s*\d{4}-\d{2}-\d{2}|🔁\s*[^📅⏳🛫➕✅❌🆔⛔]*|🔺|⏫|🔼|🔽|⏬)/gu;

function slug(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-|-$/g, '').slice(0, 60);
}

export function parseTasks(text: string, file: string, mtime: number): Task[] {
  const tasks: Task[] = [];
  for (const line of text.split('\n')) {
    const match = taskLine.exec(line);
    if (!match) continue;
    const body = match[2]!;
    const id = /🆔\s*([\w-]+)/u.exec(body)?.[1];
    const deps = /⛔\s*([\w-]+(?:\s*,\s*[\w-]+)*)/u.exec(body)?.[1];
    const title = body.replace(fieldPattern, '').trim();
    tasks.push({
      source: 'docs',
      id: id ?? `${file}#${slug(title)}`,
      title,
      status: statusByMark[match[1]!]!,
      priority: priorityByEmoji.find(([emoji]) => body.includes(emoji))?.[1] ?? 'normal',
      dependsOn: deps ? deps.split(',').map((d) => d.trim()) : [],
      updatedAt: mtime,
      url: null,
    });
  }
  return tasks;
}

export function readDocTasks(workspace: string, globs: string[]): Task[] {
  return findDocs(workspace, globs).flatMap((file) => {
    const full = join(workspace, file);
    return parseTasks(readFileSync(full, 'utf8'), file, statSync(full).mtimeMs);
  });
}
