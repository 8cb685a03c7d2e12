// Inputs at the edges: a reader that goes away, a script whose interpreter is missing, a bare
// `claw`, agent ids that point outside the roster, and FIFOs where JSON files should be.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clawBin, runClaw, sandbox } from '../helpers/claw';
import { fleet } from '../helpers/fleet';

/** Runs claw with its stdout a pipe whose reader is already gone (`claw ... | head -c1` after head exits). */
function runWithClosedStdout(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [clawBin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    // A claw that never ends fails the test here instead of hanging it.
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

describe('edges', () => {
  it('a reader that goes away (EPIPE) ends the output quietly: exit 0, nothing on stderr, never 70', async () => {
    const f = fleet({ agents: ['coo', 'secretary'] });
    for (const args of [['status', '--json'], ['status'], ['help'], ['config', 'list'], ['heartbeat', 'coo', '--dry-run', '--json']]) {
      const result = await runWithClosedStdout(args, f.env);
      expect(result, args.join(' ')).toEqual({ code: 0, signal: null, stderr: '' });
    }
  });

  it('claw call -- <command> with its reader gone stops the command as a pipe would, instead of running on unread', async () => {
    const box = sandbox();
    const result = await runWithClosedStdout(['call', '--gateway', 't', '--', 'yes', 'claw'], box.env);
    // claw closes the command's pipe (a socket pair in Node): `yes` ends with SIGPIPE (128+13) or
    // its own write error (1, "Connection reset by peer"), and claw passes that code on.
    expect([1, 141]).toContain(result.code);
    expect(result.stderr).not.toContain('claw:');
  });

  it('a script whose #! interpreter is missing: exit 69 with one line naming the interpreter, never 70', async () => {
    const box = sandbox();
    const script = join(box.root, 'tool.sh');
    writeFileSync(script, '#!/nonexistent/interpreter\necho hi\n');
    chmodSync(script, 0o755);
    const result = await runClaw(['call', '--gateway', 't', '--', script], box.env);
    expect(result.code).toBe(69);
    expect(result.stderr).toBe(
      `claw: cannot run ${script}: its interpreter /nonexistent/interpreter (from its #! line) was not found; install it or fix the #! line\n`,
    );
    const json = await runClaw(['call', '--gateway', 't', '--json', '--', script], box.env);
    expect(JSON.parse(json.stdout).error).toMatchObject({ type: 'unavailable', exitCode: 69 });
  });

  it('`claw` with no arguments prints the help on stdout and exits 0', async () => {
    const result = await runClaw([], sandbox().env);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Usage: claw /);
    for (const command of ['heartbeat', 'poll', 'call', 'status', 'cache', 'cron', 'config', 'help'])
      expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  });

  it('an agent id that leads outside the roster is refused (64) without reading the file it names', async () => {
    const f = fleet({ agents: ['coo'] });
    // A file outside the roster; before the check, its parse error printed its first bytes.
    writeFileSync(join(f.root, 'outside.json'), 'TOPSECRET contents of some other file');
    for (const id of ['../outside', '../../outside', `${f.root}/outside`, '.hidden', 'a/b', '..']) {
      const result = await runClaw(['heartbeat', id, '--dry-run'], f.env);
      expect(result.code, id).toBe(64);
      expect(result.stderr, id).toBe(`claw: "${id}" is not an agent id: use letters, digits, "-", "_" and "." (not first), as in the roster's file names\n`);
    }
  });

  it('a FIFO named <agent>.json or defaults.json is refused (78) with its name at once, never read', async () => {
    const f = fleet({ agents: ['coo'] });
    const fifo = join(f.heartbeatsDir, 'ghost.json');
    execFileSync('mkfifo', [fifo]);
    for (const args of [['heartbeat', 'ghost', '--dry-run'], ['status', '--json'], ['poll'], ['cron', 'print']]) {
      const result = await runClaw(args, f.env);
      expect(result.code, args.join(' ')).toBe(78);
      const text = args.includes('--json') ? JSON.parse(result.stdout).error.message : result.stderr.trim();
      expect(text).toContain(`roster file ${fifo} is a FIFO, not a JSON file`);
    }
    // One broken file does not stop another agent's heartbeat.
    expect((await runClaw(['heartbeat', 'coo', '--dry-run'], f.env)).code).toBe(0);
    const g = fleet({ agents: ['coo'] });
    execFileSync('rm', [join(g.heartbeatsDir, 'defaults.json')]);
    execFileSync('mkfifo', [join(g.heartbeatsDir, 'defaults.json')]);
    const result = await runClaw(['heartbeat', 'coo', '--dry-run'], g.env);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('defaults.json is a FIFO');
  }, 30_000);
});
