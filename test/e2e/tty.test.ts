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
    expect(readFileSync(transcript, 'utf8').replace(/\u001b\[\d+m/g, '')).toMatch(/secretary: degraded: a source is unavailable; nothing to do in the others/);
    expect(await onTerminal(`${process.execPath} ${clawBin} status`, env, transcript)).toBe(0);
    const screen = readFileSync(transcript, 'utf8').replace(/\u001b\[\d+m/g, '');
    expect(screen).toMatch(/GATEWAY\s+LIMIT\s+USED/);
    expect(screen).toMatch(/secretary\s+\*\/10 \* \* \* \* Asia\/Shanghai\s+\S+ ago\s+degraded/);
  });
});

const ansi = /\u001b\[\d+(;\d+)*m/;
const roster = join(__dirname, '..', '..', 'heartbeats');

/** A sandbox with the example roster and a degraded secretary (no openclaw or multica on PATH). */
async function degradedFleet() {
  const box = sandbox();
  const env = { ...box.env, CLAW_HEARTBEATS_DIR: roster, PATH: '/usr/bin:/bin' };
  expect((await runClaw(['heartbeat', 'secretary', '--no-splay'], env)).code).toBe(0);
  return { box, env, transcript: join(box.root, 'transcript') };
}

describe('colour', () => {
  it('status on a terminal colours outcomes; NO_COLOR=1, --no-color and --json on a terminal have none', async () => {
    const { env, transcript } = await degradedFleet();
    const status = `${process.execPath} ${clawBin} status`;
    expect(await onTerminal(status, env, transcript)).toBe(0);
    const coloured = readFileSync(transcript, 'utf8');
    expect(coloured).toContain('\u001b[33mdegraded\u001b[39m');
    // The table still lines up: the colour codes take no columns.
    const plainScreen = coloured.replace(/\u001b\[\d+m/g, '');
    expect(plainScreen).toMatch(/secretary\s+\*\/10 \* \* \* \* Asia\/Shanghai\s+\S+ ago\s+degraded /);

    for (const [command, extra] of [
      [status, { NO_COLOR: '1' }],
      [`${status} --no-color`, {}],
      [`${process.execPath} ${clawBin} --no-color status`, {}],
      [`${status} --json`, {}],
    ] as const) {
      expect(await onTerminal(command, { ...env, ...extra }, transcript)).toBe(0);
      const screen = readFileSync(transcript, 'utf8');
      expect(screen, command).toMatch(/secretary/);
      expect(screen, command).not.toMatch(ansi);
    }
    const json = readFileSync(transcript, 'utf8')
      .split(/\r?\n/)
      .find((line) => line.startsWith('{'));
    expect(JSON.parse(json!).ok).toBe(true);
  });

  it('through a pipe there is none, unless FORCE_COLOR=1 asks for it', async () => {
    const { env } = await degradedFleet();
    const piped = await runClaw(['status'], env);
    expect(piped.stdout).toMatch(/secretary\s.*\sdegraded\s/);
    expect(piped.stdout).not.toMatch(ansi);
    const forced = await runClaw(['status'], { ...env, FORCE_COLOR: '1' });
    expect(forced.stdout).toContain('\u001b[33mdegraded\u001b[39m');
    expect((await runClaw(['status', '--json'], { ...env, FORCE_COLOR: '1' })).stdout).not.toMatch(ansi);
    expect((await runClaw(['status', '--no-color'], { ...env, FORCE_COLOR: '1' })).stdout).not.toMatch(ansi);
  });

  it('chalk is loaded only when colour is on: never for --json, a pipe or NO_COLOR', async () => {
    const { env, transcript } = await degradedFleet();
    const traced = { ...env, NODE_DEBUG: 'module' };
    const loadsChalk = (text: string) => /chalk\.cjs/.test(text);
    for (const args of [['status', '--json'], ['status'], ['heartbeat', 'secretary', '--no-splay']]) {
      expect(loadsChalk((await runClaw(args, traced)).stderr), args.join(' ')).toBe(false);
    }
    expect(await onTerminal(`${process.execPath} ${clawBin} status --json`, traced, transcript)).toBe(0);
    expect(loadsChalk(readFileSync(transcript, 'utf8'))).toBe(false);
    expect(await onTerminal(`${process.execPath} ${clawBin} status`, { ...traced, NO_COLOR: '1' }, transcript)).toBe(0);
    expect(loadsChalk(readFileSync(transcript, 'utf8'))).toBe(false);
    // The same trace does show it when colour is on, so the absence above means something.
    expect(await onTerminal(`${process.execPath} ${clawBin} status`, traced, transcript)).toBe(0);
    expect(loadsChalk(readFileSync(transcript, 'utf8'))).toBe(true);
  });

  it("the claw: prefix of an error is red on a terminal's stderr, plain through a pipe", async () => {
    const { env, transcript } = await degradedFleet();
    expect(await onTerminal(`${process.execPath} ${clawBin} heartbeat ghost`, env, transcript)).toBe(64);
    expect(readFileSync(transcript, 'utf8')).toMatch(/\u001b\[31mclaw:\u001b\[39m .*no agent "ghost"/);
    const piped = await runClaw(['heartbeat', 'ghost'], env);
    expect(piped.code).toBe(64);
    expect(piped.stderr).toMatch(/^claw: .*no agent "ghost"/);
  });
});

describe('help', () => {
  /** The description under Usage, as paragraphs of lines. */
  const paragraphs = (help: string) =>
    help
      .replace(/\r/g, '')
      .split('\n\nArguments:')[0]!
      .split('\n')
      .slice(2)
      .join('\n')
      .trim()
      .split('\n\n')
      .map((p) => p.split('\n'));

  /** Every line but a paragraph's last fills the width (no short orphan left by a second wrap). */
  function wrappedOnce(help: string, width: number): string[][] {
    const found = paragraphs(help);
    expect(found.length).toBeGreaterThan(1);
    for (const lines of found) {
      for (const [i, line] of lines.entries()) {
        expect(line.length, line).toBeLessThanOrEqual(width);
        const next = lines[i + 1];
        if (next !== undefined && !/^\s/.test(next)) expect(line.length, `short line: "${line}"`).toBeGreaterThan(width - 20);
      }
    }
    return found;
  }

  it('claw heartbeat --help wraps its paragraphs once, to COLUMNS: 60 and 120 give the same text in different lines', async () => {
    const box = sandbox();
    const narrow = await runClaw(['heartbeat', '--help'], { ...box.env, COLUMNS: '60' });
    const wide = await runClaw(['heartbeat', '--help'], { ...box.env, COLUMNS: '120' });
    const at60 = wrappedOnce(narrow.stdout, 60);
    const at120 = wrappedOnce(wide.stdout, 120);
    expect(at60.map((p) => p.length)).not.toEqual(at120.map((p) => p.length));
    expect(at60.map((p) => p.join(' '))).toEqual(at120.map((p) => p.join(' ')));
  });

  it("on a terminal, help follows the terminal's width", async () => {
    const box = sandbox();
    const transcript = join(box.root, 'transcript');
    expect(await onTerminal(`stty cols 60; ${process.execPath} ${clawBin} heartbeat --help`, box.env, transcript)).toBe(0);
    wrappedOnce(readFileSync(transcript, 'utf8'), 60);
  });

  it('every command describes itself in paragraphs that wrap cleanly at 80 columns', async () => {
    const box = sandbox();
    for (const command of [['heartbeat'], ['poll'], ['call'], ['status'], ['cache'], ['cron'], ['doctor'], ['unblock'], ['proxy'], ['config'], []]) {
      const help = await runClaw([...command, '--help'], box.env);
      for (const lines of paragraphs(help.stdout.replace(/\n\n(Options|Commands):[^]*$/, ''))) {
        for (const [i, line] of lines.entries()) {
          const next = lines[i + 1];
          if (next !== undefined && !/^\s/.test(next)) expect(line.length, `claw ${command.join(' ')} --help: short line "${line}"`).toBeGreaterThan(60);
        }
      }
    }
  });
});
