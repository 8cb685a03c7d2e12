// main() run in this process with a stub ProcessRunner: every program claw starts goes through the
// injected runner, and a command nobody registered is refused, so a test sees each one claw starts.
import { describe, expect, it } from 'vitest';
import { main } from '../../src/main';
import type { IO } from '../../src/io';
import { fleet } from '../helpers/fleet';
import { stubRunner, type StubRunner } from '../helpers/stub-runner';

function inProcess(env: NodeJS.ProcessEnv, cwd: string, runner: StubRunner) {
  const out = { stdout: '', stderr: '' };
  const io: IO = {
    stdout: { write: (text) => ((out.stdout += Buffer.from(text).toString()), true), isTTY: false },
    stderr: { write: (text) => ((out.stderr += Buffer.from(text).toString()), true), isTTY: false },
    stdin: process.stdin,
    env,
    cwd,
    now: Date.now,
    runner,
  };
  return { io, out };
}

const noIssues = JSON.stringify({ has_more: false, issues: [], limit: 100, offset: 0, total: 0 });
const sources = (runner: StubRunner, issues = noIssues) =>
  runner
    .register(/^openclaw workboard list --json$/, { stdout: '{"cards": []}\n' })
    .register(/^multica --workspace-id \S+ issue list --limit 100 --offset 0 --output json$/, { stdout: issues })
    .register(/^multica --workspace-id \S+ agent list --output json$/, {
      stdout: JSON.stringify([{ id: '00000000-0000-4000-8000-000000000000', name: 'coo', model: 'coo', archived_at: null }]),
    });

describe('the injected process runner', () => {
  it('a heartbeat starts its sources and its dispatch through the runner, with the dispatch env and no other command', async () => {
    const f = fleet({ agents: ['coo'] });
    f.writeTodo('coo', '- [ ] Write the report\n');
    let dispatchEnv: NodeJS.ProcessEnv | undefined;
    const runner = sources(stubRunner()).register(/^openclaw agent --agent coo /, (_, options) => {
      dispatchEnv = options.env;
      return { stdout: '{"status":"ok","transport":"gateway"}\n' };
    });
    const { io, out } = inProcess(f.env, f.root, runner);
    expect(await main(['heartbeat', 'coo', '--json', '--no-splay'], io)).toBe(0);
    expect(out.stderr).toBe('');
    const report = JSON.parse(out.stdout);
    expect(report.outcome).toBe('dispatched');
    expect(report.dispatch.tasks).toHaveLength(1);
    runner.verify();
    expect(runner.calls.map((argv) => argv.slice(0, 2).join(' ')).sort()).toEqual([
      'multica --workspace-id',
      'multica --workspace-id',
      'openclaw agent',
      'openclaw workboard',
    ]);
    expect(dispatchEnv).toMatchObject({ CLAW_AGENT: 'coo', CLAW_GATEWAY: report.dispatch.gateway, CLAW_MODEL: report.dispatch.model });
  });

  it('an idle heartbeat with a warm cache starts no process at all', async () => {
    const f = fleet({ agents: ['coo'] });
    const polled = sources(stubRunner());
    expect(await main(['poll'], inProcess(f.env, f.root, polled).io)).toBe(0);
    polled.verify();
    // A runner that refuses every command: a heartbeat that started one would fail (exit 70).
    const refuseAll = stubRunner();
    const { io, out } = inProcess(f.env, f.root, refuseAll);
    expect(await main(['heartbeat', 'coo', '--json', '--no-splay'], io)).toBe(0);
    expect(JSON.parse(out.stdout).outcome).toBe('idle');
    expect(refuseAll.calls).toEqual([]);
  });

  it('a command nobody registered is refused: the stub names it and claw reports it (so no test misses a start)', async () => {
    const f = fleet({ agents: ['coo'] });
    const runner = sources(stubRunner());
    const { io, out } = inProcess(f.env, f.root, runner);
    f.writeTodo('coo', '- [ ] Work\n');
    expect(await main(['heartbeat', 'coo', '--no-splay'], io)).toBe(70);
    expect(out.stderr).toMatch(/stub runner: unexpected command: openclaw agent --agent coo /);
  });

  it("cron install reads the crontab and writes it back through the runner, the user's own lines kept", async () => {
    const f = fleet({ agents: ['coo'] });
    let installed: string | undefined;
    const runner = stubRunner()
      .register(/^crontab -l$/, { stdout: 'MAILTO=ops@example.com\n0 3 * * * backup\n' })
      .register(/^crontab -$/, (_, options) => {
        installed = options.input;
        return {};
      });
    const { io, out } = inProcess(f.env, f.root, runner);
    expect(await main(['cron', 'install', '--cron', 'honours-tz', '--host-tz', 'UTC', '--log-dir', `${f.root}/logs`], io)).toBe(0);
    runner.verify();
    expect(out.stdout).toMatch(/^installed the claw block/);
    expect(installed).toMatch(/^MAILTO=ops@example\.com\n0 3 \* \* \* backup\n# >>> claw heartbeats/);
    expect(installed).toMatch(/ heartbeat coo\b/);
  });
});
