// WorkBoard cards: `openclaw workboard list --json` (the bundled workboard plugin), one call for all agents.
import { describeFailure } from '../proc.js';
import type { ProcessRunner } from '../process/runner.js';
import { SourceError } from '../errors.js';
import type { PriorityName } from '../priority.js';
import type { Task, TaskStatus, WorkboardCard } from './types.js';
import { checkCard, checkRecords, isRecord, type Checked } from './validate.js';
import { cardsFromDatabase, type WorkboardRead } from './workboard-db.js';

export async function listCards(
  runner: ProcessRunner,
  board: string | undefined,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  read: WorkboardRead = 'auto',
): Promise<Checked<WorkboardCard>> {
  // The plugin's database when its schema is one claw knows (milliseconds, not a 7-15 s CLI start).
  // Archived cards are kept either way: dependencies resolve over them too.
  if (read !== 'cli') {
    const fromDb = cardsFromDatabase(board, env);
    if (fromDb.ok) return checkRecords(fromDb.cards as unknown[], 'card', checkCard);
    if (read === 'db') throw new SourceError(`workboard.read is "db" but ${fromDb.reason}; set it to auto or cli`);
  }
  const args = ['openclaw', 'workboard', 'list', ...(board ? ['--board', board] : []), '--json'];
  const result = await runner.run(args, { env, timeoutMs });
  if (result.spawnError || result.timedOut || result.code !== 0) throw new SourceError(describeFailure('openclaw', result, timeoutMs));
  let doc: unknown;
  try {
    doc = JSON.parse(result.stdout);
  } catch {
    throw new SourceError(`openclaw workboard list printed something that is not JSON: ${JSON.stringify(result.stdout.slice(0, 80))}`);
  }
  if (!isRecord(doc) || !Object.hasOwn(doc, 'cards') || !Array.isArray(doc.cards))
    throw new SourceError('openclaw workboard list printed JSON without a "cards" list');
  const checked = checkRecords(doc.cards as unknown[], 'card', checkCard);
  // --json always includes archived cards: kept, because dependencies resolve over them too.
  return checked;
}

const isArchived = (card: WorkboardCard): boolean => Boolean(card.metadata?.archivedAt);

/** OpenClaw's own stall check: the claim's heartbeat, else the execution's update, else the card's. */
export function progressOf(card: WorkboardCard): number {
  return card.metadata?.claim?.lastHeartbeatAt ?? card.execution?.updatedAt ?? card.updatedAt ?? 0;
}

function statusOf(status: string): TaskStatus | undefined {
  switch (status) {
    case 'todo':
    case 'ready':
      return 'todo';
    case 'running':
      return 'in_progress';
    case 'review':
    case 'blocked':
      return 'blocked';
    case 'done':
      return 'done';
    default:
      return undefined; // triage, backlog, scheduled: not waiting for the agent yet
  }
}

// A Map: a priority of "constructor" or "toString" is an unknown priority, not Object.prototype's.
const priorities = new Map<string, PriorityName>([
  ['urgent', 'urgent'],
  ['high', 'high'],
  ['normal', 'normal'],
  ['low', 'low'],
]);

export function cardToTask(card: WorkboardCard): Task | undefined {
  const status = statusOf(card.status);
  if (!status) return undefined;
  const links = card.metadata?.links ?? [];
  return {
    source: 'workboard',
    id: card.id,
    title: card.title,
    status,
    priority: priorities.get(card.priority ?? 'normal') ?? 'normal',
    dependsOn: links.filter((l) => l.type === 'blocked_by' || l.type === 'parent').map((l) => l.targetCardId),
    updatedAt: progressOf(card),
  };
}

/** Every card's status, archived ones included (OpenClaw resolves dependencies over them: a done, archived card no longer blocks). */
export function cardStatuses(cards: WorkboardCard[]): Record<string, TaskStatus> {
  const known: Record<string, TaskStatus> = Object.create(null);
  for (const card of cards) known[card.id] = card.status === 'done' ? 'done' : (statusOf(card.status) ?? 'todo');
  return known;
}

export function tasksForAgent(cards: WorkboardCard[], agentId: string): Task[] {
  return cards
    .filter((c) => c.agentId === agentId && !isArchived(c))
    .map(cardToTask)
    .filter((t): t is Task => t !== undefined);
}
