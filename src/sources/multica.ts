// Multica issues: one unfiltered, paged `issue list` per workspace serves every agent.
import { describeFailure, runProcess } from '../proc.js';
import { SourceError } from '../cache/cache.js';
import type { PriorityName } from '../priority.js';
import type { Task, TaskStatus } from './types.js';

export interface MulticaIssue {
  id: string;
  identifier?: string;
  title: string;
  status: string;
  status_category?: string | null;
  priority?: string | null;
  assignee_id?: string | null;
  assignee_type?: string | null;
  updated_at?: string | null;
  last_activity_at?: string | null;
}

export interface MulticaAgent {
  id: string;
  name: string;
  model?: string | null;
  archived_at?: string | null;
}

const pageSize = 100;
const maxPages = 100;

/** The CLI believes it runs inside a Multica task when these are set, and ignores its config. */
export function multicaEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = { ...env };
  delete clean.MULTICA_AGENT_ID;
  delete clean.MULTICA_TASK_ID;
  delete clean.MULTICA_DAEMON_PORT;
  return clean;
}

async function multicaJson(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<unknown> {
  const result = await runProcess(['multica', ...args], { env: multicaEnv(env), timeoutMs });
  if (result.spawnError || result.timedOut || result.code !== 0) throw new SourceError(describeFailure('multica', result, timeoutMs));
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new SourceError(`multica printed something that is not JSON: ${JSON.stringify(result.stdout.slice(0, 80))}`);
  }
}

export async function listIssues(workspaceId: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<MulticaIssue[]> {
  const issues: MulticaIssue[] = [];
  for (let page = 0; page < maxPages; page++) {
    const doc = (await multicaJson(
      ['--workspace-id', workspaceId, 'issue', 'list', '--limit', String(pageSize), '--offset', String(page * pageSize), '--output', 'json'],
      env,
      timeoutMs,
    )) as { issues?: unknown; has_more?: unknown };
    if (!doc || !Array.isArray(doc.issues)) throw new SourceError('multica issue list printed JSON without an "issues" list');
    issues.push(...(doc.issues as MulticaIssue[]));
    if (doc.has_more !== true) return issues;
  }
  return issues;
}

export async function listAgents(workspaceId: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<MulticaAgent[]> {
  const doc = await multicaJson(['--workspace-id', workspaceId, 'agent', 'list', '--output', 'json'], env, timeoutMs);
  if (!Array.isArray(doc)) throw new SourceError('multica agent list printed JSON that is not a list');
  return doc as MulticaAgent[];
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

const priorities: Record<string, PriorityName> = { urgent: 'urgent', high: 'high', medium: 'normal', low: 'low', none: 'low' };

export function issueToTask(issue: MulticaIssue): Task | undefined {
  const status = statusOf(issue);
  if (!status) return undefined;
  const updated = issue.last_activity_at ?? issue.updated_at;
  return {
    source: 'multica',
    id: issue.identifier || issue.id,
    title: issue.title,
    status,
    priority: priorities[issue.priority ?? 'none'] ?? 'normal',
    dependsOn: [],
    updatedAt: updated ? Date.parse(updated) : 0,
    url: null,
  };
}

export function tasksForAgent(issues: MulticaIssue[], multicaAgentId: string | undefined): Task[] {
  if (!multicaAgentId) return [];
  return issues
    .filter((i) => i.assignee_type === 'agent' && i.assignee_id === multicaAgentId)
    .map(issueToTask)
    .filter((t): t is Task => t !== undefined);
}
