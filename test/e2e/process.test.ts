// Child processes through the built bin: what the command form of `claw call` keeps on top of
// execa (signals passed on, 128+N, stdin passed through), and execa loaded only where claw spawns.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clawBin, finished, repoRoot, runClaw, sandbox, startClaw, waitFor } from '../helpers/claw';
import { fleet } from '../helpers/fleet';

/** Runs claw with a preload that writes, at exit, every module file it had loaded. */
function withModuleList(env: NodeJS.ProcessEnv, dir: string) {
  const preload = join(dir, 'loaded-modules.cjs');
  const out = join(dir, 'loaded-modules.json');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));\n`);
  return { env: { ...env, NODE_OPTIONS: `--require ${preload}` }, loaded: (): string[] => JSON.parse(readFileSync(out, 'utf8')) };
}

const execaBundle = join(repoRoot, 'dist', 'execa.cjs');

describe('child processes', () => {
  it('execa is loaded only by what starts a process: not by status, nor by an idle heartbeat with a warm cache', async () => {
    const f = fleet({ agents: ['coo'] });
    const run = withModuleList(f.env, f.root);
    const status = await runClaw(['status', '--json'], run.env);
    expect(status.code).toBe(0);
    expect(run.loaded()).toContain(clawBin);
    expect(run.loaded()).not.toContain(execaBundle);
    // The poll refreshes the sources (it starts multica and openclaw): execa is loaded.
    expect((await runClaw(['poll'], run.env)).code).toBe(0);
    expect(run.loaded()).toContain(execaBundle);
    const idle = await runClaw(['heartbeat', 'coo', '--no-splay', '--json'], run.env);
    expect(JSON.parse(idle.stdout).outcome).toBe('idle');
    expect(run.loaded()).not.toContain(execaBundle);
  });

  it('claw call -- <command> killed by signal N exits 128+N', async () => {
    const box = sandbox();
    expect((await runClaw(['call', '--gateway', 't', '--', 'sh', '-c', 'kill -TERM $$'], box.env)).code).toBe(143);
    expect((await runClaw(['call', '--gateway', 't', '--', 'sh', '-c', 'kill -KILL $$'], box.env)).code).toBe(137);
  });

  it("claw call -- <command> passes claw's stdin through to the command", async () => {
    const box = sandbox();
    const result = await runClaw(['call', '--gateway', 't', '--', 'cat'], box.env, 'line one\nline two\n');
    expect(result).toMatchObject({ code: 0, stdout: 'line one\nline two\n', stderr: '' });
  });

  it('a SIGTERM claw receives during claw call -- <command> goes to the command, whose own exit code claw returns', async () => {
    const box = sandbox();
    const child = startClaw(
      ['call', '--gateway', 't', '--', 'sh', '-c', 'trap "echo got TERM; exit 5" TERM; echo ready; while :; do sleep 0.1; done'],
      box.env,
    );
    const done = finished(child);
    let seen = '';
    child.stdout!.on('data', (d) => (seen += d));
    await waitFor(() => seen.includes('ready'));
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(5);
    expect(result.stdout).toBe('ready\ngot TERM\n');
  });
});
