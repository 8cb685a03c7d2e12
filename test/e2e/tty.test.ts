// What a person at a terminal sees: a real pseudo-terminal through script(1) from util-linux.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clawBin, runClaw, sandbox } from '../helpers/claw';
import { spawn } from 'node:child_process';

function onTerminal(command: string, env: NodeJS.ProcessEnv, transcript: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('script', ['-qefc', command, transcript], { env, stdio: 'ignore' });
    child.on('close', (code) => resolve(code ?? -1));
  });
}

describe('on a terminal', () => {
  it('a wait longer than a second shows one live line with the queue position, priority and estimate', async () => {
    const box = sandbox();
    box.writeConfig({ gateways: { t: { limit: 1, window: '3s' } } });
    expect((await runClaw(['call', '--gateway', 't', '--', 'true'], box.env)).code).toBe(0);
    const transcript = join(box.root, 'transcript');
    const code = await onTerminal(`${process.execPath} ${clawBin} call --gateway t --priority high -- echo admitted`, box.env, transcript);
    expect(code).toBe(0);
    const screen = readFileSync(transcript, 'utf8');
    expect(screen).toMatch(/waiting for t: #1 in queue \(high\), ~\d+(\.\d)?(ms|s)/);
    expect(screen).toContain('admitted');
  });

  it('off a terminal the same wait prints nothing extra', async () => {
    const box = sandbox();
    box.writeConfig({ gateways: { t: { limit: 1, window: '3s' } } });
    expect((await runClaw(['call', '--gateway', 't', '--', 'true'], box.env)).code).toBe(0);
    const r = await runClaw(['call', '--gateway', 't', '--priority', 'high', '--', 'echo', 'admitted'], box.env);
    expect(r).toMatchObject({ code: 0, stdout: 'admitted\n', stderr: '' });
  });

  it('an idle heartbeat on a terminal says so; status prints tables', async () => {
    const box = sandbox();
    const transcript = join(box.root, 'transcript');
    const env = { ...box.env, CLAW_HEARTBEATS_DIR: join(__dirname, '..', '..', 'heartbeats'), PATH: '/usr/bin:/bin' };
    expect(await onTerminal(`${process.execPath} ${clawBin} heartbeat secretary`, env, transcript)).toBe(0);
    expect(readFileSync(transcript, 'utf8')).toMatch(/secretary: degraded: a source is unavailable; nothing to do in the others/);
    expect(await onTerminal(`${process.execPath} ${clawBin} status`, env, transcript)).toBe(0);
    const screen = readFileSync(transcript, 'utf8');
    expect(screen).toMatch(/GATEWAY\s+LIMIT\s+USED/);
    expect(screen).toMatch(/secretary\s+\*\/10 \* \* \* \* Asia\/Shanghai\s+\S+ ago\s+degraded/);
  });
});
