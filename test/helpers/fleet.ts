// A roster in a temp dir, fake `multica` and `openclaw` first on PATH, and their invocation log.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, sandbox, type Sandbox, type StoreKind } from './claw';

export const workspaceId = 'c1d2e3f4-0000-4aaa-8bbb-123456789abc';
export const fleet15 = {
  ten: ['coo', 'secretary', 'opengineer', 'projectmanager', 'costcodev'],
  fifteen: [
    'productmanager',
    'architect',
    'designer',
    'contentspecialist',
    'cvexpert',
    'prompt-engineer',
    'mediaspecialist',
    'taobaospecialist',
    'marketanalysis',
    'lawyer',
  ],
};
/** The whole example roster, in the order `fleet()` writes it: the ten-minute agents, then the fifteen-minute ones. */
export const fleetAgents: readonly string[] = [...fleet15.ten, ...fleet15.fifteen];

export interface Invocation {
  /** multica-child: a process the hanging fake multica started. */
  tool: 'multica' | 'multica-child' | 'openclaw';
  argv: string[];
  pid: number;
  at: number;
  env?: Record<string, string | null>;
}

export interface Fleet extends Sandbox {
  heartbeatsDir: string;
  data: string;
  log: string;
  workspace(agent: string): string;
  writeTodo(agent: string, text: string, file?: string): void;
  setIssues(issues: unknown[]): void;
  setAgents(agents: unknown[]): void;
  setCards(cards: unknown[]): void;
  invocations(): Invocation[];
  calls(match: (i: Invocation) => boolean): Invocation[];
}

export function fleet(
  options: {
    agents?: string[];
    defaults?: Record<string, unknown>;
    agentOverrides?: Record<string, Record<string, unknown>>;
    env?: NodeJS.ProcessEnv;
    store?: StoreKind;
  } = {},
): Fleet {
  const agents = options.agents ?? fleetAgents;
  const box = sandbox({}, options.store);
  const heartbeatsDir = join(box.root, 'heartbeats');
  const data = join(box.root, 'fake-data');
  const log = join(box.root, 'fake.log');
  mkdirSync(heartbeatsDir, { recursive: true });
  mkdirSync(data, { recursive: true });
  writeFileSync(
    join(heartbeatsDir, 'defaults.json'),
    JSON.stringify({
      tz: 'Asia/Shanghai',
      workspace: 'workspaces/{agent}',
      multica: { workspaceId },
      workboard: {},
      model: 'nvidia/deepseek-ai/deepseek-v4-pro',
      splay: '0s',
      sourceTimeout: '10s',
      ...options.defaults,
    }),
  );
  for (const agent of agents) {
    mkdirSync(join(heartbeatsDir, 'workspaces', agent), { recursive: true });
    const schedule = fleet15.ten.includes(agent) ? '*/10 * * * *' : '*/15 * * * *';
    writeFileSync(join(heartbeatsDir, `${agent}.json`), JSON.stringify({ id: agent, schedule, ...options.agentOverrides?.[agent] }));
  }
  const multicaAgents = agents.map((name, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name,
    model: name,
    status: 'idle',
    runtime_mode: 'openclaw',
    archived_at: null,
  }));
  writeFileSync(join(data, 'multica-agents.json'), JSON.stringify(multicaAgents));
  writeFileSync(join(data, 'multica-issues.json'), '[]');
  writeFileSync(join(data, 'workboard.json'), JSON.stringify({ cards: [] }));
  box.env.PATH = `${join(repoRoot, 'test', 'fakes')}:${box.env.PATH}`;
  Object.assign(box.env, { CLAW_HEARTBEATS_DIR: heartbeatsDir, FAKE_DATA: data, FAKE_LOG: log, ...options.env });
  const invocations = (): Invocation[] =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Invocation)
      : [];
  return {
    ...box,
    heartbeatsDir,
    data,
    log,
    workspace: (agent) => join(heartbeatsDir, 'workspaces', agent),
    writeTodo: (agent, text, file = 'TODO.md') => {
      const full = join(heartbeatsDir, 'workspaces', agent, file);
      mkdirSync(join(full, '..'), { recursive: true });
      writeFileSync(full, text);
    },
    setIssues: (issues) => writeFileSync(join(data, 'multica-issues.json'), JSON.stringify(issues)),
    setAgents: (list) => writeFileSync(join(data, 'multica-agents.json'), JSON.stringify(list)),
    setCards: (cards) => writeFileSync(join(data, 'workboard.json'), JSON.stringify({ cards })),
    invocations,
    calls: (match) => invocations().filter(match),
  };
}

export const isIssueList = (i: Invocation) => i.tool === 'multica' && i.argv.includes('issue') && i.argv.includes('list');
export const isAgentList = (i: Invocation) => i.tool === 'multica' && i.argv.includes('agent') && i.argv.includes('list');
export const isWorkboardList = (i: Invocation) => i.tool === 'openclaw' && i.argv[0] === 'workboard';
export const isDispatch = (i: Invocation) => i.tool === 'openclaw' && i.argv[0] === 'agent';
export const isNotify = (i: Invocation) => i.tool === 'openclaw' && i.argv[0] === 'message';

export function multicaIssue(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    assignee_id: '00000000-0000-4000-8000-000000000000',
    assignee_type: 'agent',
    created_at: '2026-08-20T09:14:02Z',
    creator_id: '0b6e9f3a-1111-4c2d-8e7f-5a4b3c2d1e0f',
    creator_type: 'member',
    description: '',
    due_date: null,
    id: '3b7e1c44-2f6a-4d8b-9e01-7c5d4b3a2f19',
    identifier: 'MUL-123',
    labels: [],
    last_activity_at: null,
    metadata: {},
    number: 123,
    parent_issue_id: null,
    position: 1024,
    priority: 'high',
    project_id: null,
    properties: {},
    revision: 3,
    stage: null,
    start_date: null,
    status: 'todo',
    status_category: 'todo',
    title: 'Q3 cost report',
    updated_at: '2026-08-21T10:00:00Z',
    workspace_id: workspaceId,
    ...fields,
  };
}

/** A WorkBoard card as `openclaw workboard list --json` prints it: ready, normal priority, coo's, no links. */
export function workboardCard(id: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    title: id,
    notes: '',
    status: 'ready',
    priority: 'normal',
    labels: [],
    agentId: 'coo',
    position: 1,
    createdAt: 1,
    updatedAt: Date.now(),
    startedAt: null,
    metadata: {},
    ...fields,
  };
}

export function appendLog(file: string, text: string): void {
  appendFileSync(file, text);
}
