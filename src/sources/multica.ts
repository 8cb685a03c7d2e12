// Multica issues: one unfiltered, paged `issue list` per workspace serves every agent.
import { describeFailure } from '../proc.js';
import type { ProcessRunner } from '../process/runner.js';
import { SourceError } from '../errors.js';
import type { PriorityName } from '../priority.js';
import type { MulticaAgent, MulticaIssue, Task, TaskStatus } from './types.js';
import { checkAgent, checkIssue, checkRecords, emptyChecked, isRecord, type Checked } from './validate.js';

const pageSize = 100;
/**
 * The paging bound: 1,000 pages of 100 = 100,000 issues per workspace. Past it the source is
 * degraded ("truncated"), never silently short; the issues read so far are still used.
 * `CLAW_TEST_MULTICA_MAX_PAGES` lowers it for tests.
 */
export const maxIssuePages = 1000;

/** The CLI believes it runs inside a Multica task when these are set, and ignores its config. */
export function multicaEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = { ...env };
  delete clean.MULTICA_AGENT_ID;
  delete clean.MULTICA_TASK_ID;
  delete clean.MULTICA_DAEMON_PORT;
  return clean;
}

async function multicaJson(runner: ProcessRunner, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<unknown> {
  const result = await runner.run(['multica', ...args], { env: multicaEnv(env), timeoutMs });
  if (result.spawnError || result.timedOut || result.code !== 0) throw new SourceError(describeFailure('multica', result, timeoutMs));
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new SourceError(`multica printed something that is not JSON: ${JSON.stringify(result.stdout.slice(0, 80))}`);
  }
}

/** One page of `issue list` as printed, from `offset`. */
export type IssuePage = (offset: number) => Promise<unknown>;

/**
 * Pages until `has_more` is false, checking each record. Stops early, marked truncated, at the
 * bound, and when the server does not advance (an empty page, or only issues already seen, while
 * it still says more follow). An issue seen twice (moved between pages while paging) counts once.
 */
export async function pageIssues(fetchPage: IssuePage, maxPages: number = maxIssuePages): Promise<Checked<MulticaIssue>> {
  const checked = emptyChecked<MulticaIssue>();
  const seen = new Set<string>();
  let offset = 0;
  for (let page = 0; ; page++) {
    if (page >= maxPages) {
      checked.truncated = `truncated after ${offset} issues (${maxPages} pages, the paging bound); more remain unread`;
      return checked;
    }
    const doc = await fetchPage(offset);
    const issues = isRecord(doc) && Object.hasOwn(doc, 'issues') ? doc.issues : undefined;
    if (!isRecord(doc) || !Array.isArray(issues)) throw new SourceError(`multica issue list printed JSON without an "issues" list (offset ${offset})`);
    const fresh = checkRecords(issues, 'issue', checkIssue, { ...emptyChecked<MulticaIssue>(), skipped: checked.skipped }, offset);
    checked.skippedCount += fresh.skippedCount;
    let added = 0;
    for (const issue of fresh.items) {
      if (seen.has(issue.id)) continue;
      seen.add(issue.id);
      checked.items.push(issue);
      added++;
    }
    if (doc.has_more !== true) return checked;
    if (issues.length === 0 || (added === 0 && fresh.items.length > 0)) {
      checked.truncated = `truncated after ${offset + issues.length} issues: multica says more follow but sent ${issues.length === 0 ? 'an empty page' : 'the same issues again'} at offset ${offset}`;
      return checked;
    }
    offset += issues.length;
  }
}

export function listIssues(runner: ProcessRunner, workspaceId: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Checked<MulticaIssue>> {
  const hook = Number(env.CLAW_TEST_MULTICA_MAX_PAGES);
  const maxPages = Number.isInteger(hook) && hook > 0 ? hook : maxIssuePages;
  return pageIssues(
    (offset) =>
      multicaJson(
        runner,
        ['--workspace-id', workspaceId, 'issue', 'list', '--limit', String(pageSize), '--offset', String(offset), '--output', 'json'],
        env,
        timeoutMs,
      ),
    maxPages,
  );
}

export async function listAgents(runner: ProcessRunner, workspaceId: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Checked<MulticaAgent>> {
  const doc = await multicaJson(runner, ['--workspace-id', workspaceId, 'agent', 'list', '--output', 'json'], env, timeoutMs);
  if (!Array.isArray(doc)) throw new SourceError('multica agent list printed JSON that is not a list');
  return checkRecords(doc, 'agent', checkAgent);
}

/** An explicit id from claw's roster first, then `model` (the OpenClaw agent id), then `name`. */
export function multicaAgentFor(agentId: string, explicitId: string | undefined, agents: MulticaAgent[]): string | undefined {
  if (explicitId) return explicitId;
  const wanted = agentId.toLowerCase();
  const live = agents.filter((a) => !a.archived_at);
  return (live.find((a) => (a.model ?? '').toLowerCase() === wanted) ?? live.find((a) => a.name.toLowerCase() === wanted))?.id;
}

function statusOf(issue: MulticaIssue): TaskStatus | undefined {
  switch (issue.status_category || issue.status) {
    case 'todo':
      return 'todo';
    case 'in_progress':
      return 'in_progress';
    // Waiting on a reviewer or on something else: not the agent's move.
    case 'in_review':
    case 'blocked':
      return 'blocked';
    case 'done':
    case 'cancelled':
      return 'done';
    default:
      return undefined; // backlog: not ready to claim
  }
}

// A Map: a priority of "constructor" or "__proto__" is an unknown priority, not Object.prototype's.
const priorities = new Map<string, PriorityName>([
  ['urgent', 'urgent'],
  ['high', 'high'],
  ['medium', 'normal'],
  ['low', 'low'],
  ['none', 'low'],
]);

export function issueToTask(issue: MulticaIssue): Task | undefined {
  const status = statusOf(issue);
  if (!status) return undefined;
  const updated = Date.parse(issue.last_activity_at ?? issue.updated_at ?? '');
  return {
    source: 'multica',
    id: issue.identifier || issue.id,
    title: issue.title,
    status,
    priority: priorities.get(issue.priority ?? 'none') ?? 'normal',
    dependsOn: [],
    updatedAt: Number.isFinite(updated) ? updated : 0,
  };
}

export function tasksForAgent(issues: MulticaIssue[], multicaAgentId: string | undefined): Task[] {
  if (!multicaAgentId) return [];
  return issues
    .filter((i) => i.assignee_type === 'agent' && i.assignee_id === multicaAgentId)
    .map(issueToTask)
    .filter((t): t is Task => t !== undefined);
}
