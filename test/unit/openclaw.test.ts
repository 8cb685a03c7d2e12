// What claw makes of the real openclaw's output: failure reasons, progress signals, timeouts.
import { describe, expect, it } from 'vitest';
import { failureReason } from '../../src/proc';
import { cardStatuses, cardToTask, tasksForAgent } from '../../src/sources/workboard';
import { cardsKey } from '../../src/heartbeat/gather';
import { innerTimeoutSeconds } from '../../src/heartbeat/dispatch';
import { defaultDispatch } from '../../src/config/roster';

// Verbatim from the reference (openclaw 2026.9.6).
const advice = ['[openclaw] Debug: set OPENCLAW_DEBUG=1 to include the stack trace.', '[openclaw] Try: openclaw doctor', '[openclaw] Help: openclaw --help'];
const cliStderr = (reason: string) => ['[openclaw] The CLI command failed.', `[openclaw] Reason: ${reason}`, ...advice].join('\n') + '\n';
const cliJson = (message: string) => `${JSON.stringify({ ok: false, error: { type: 'cli_error', message } }, null, 2)}\n`;
const invalidConfig = "Invalid config at /home/u/.openclaw/openclaw.json:\n- <root>: JSON5 parse failed: SyntaxError: JSON5: invalid character 'i' at 1:21";

describe('failure reasons', () => {
  it("takes openclaw's JSON error message under --json, not the last stderr line", () => {
    expect(failureReason(cliJson('file is not a database'), cliStderr('file is not a database'))).toBe('file is not a database');
  });

  it('reads a reason that spans two lines, from JSON or from the Reason: line, as one line', () => {
    const oneLine = "Invalid config at /home/u/.openclaw/openclaw.json: - <root>: JSON5 parse failed: SyntaxError: JSON5: invalid character 'i' at 1:21";
    expect(failureReason(cliJson(invalidConfig), cliStderr(invalidConfig))).toBe(oneLine);
    expect(failureReason('', cliStderr(invalidConfig))).toBe(oneLine);
  });

  it('reads the [openclaw] Reason: line when stdout holds no JSON', () => {
    const message = 'Unknown agent id "coo". Use "openclaw agents list" to see configured agents.';
    expect(failureReason('', cliStderr(message))).toBe(message);
  });

  it('takes the first lines of a bare stderr, without the advice that follows', () => {
    const plugin =
      'The `openclaw workboard` command is unavailable because `plugins.entries.workboard.enabled=false`. Re-enable that entry if you want the bundled plugin command surface.\n';
    expect(failureReason('', plugin)).toBe(plugin.trim());
    const gateway =
      'gateway agent requires credentials before opening a websocket\nFix: configure gateway.auth token/password, pair this device, or pass --token/--password.\nConfig: /home/u/.openclaw/openclaw.json\n';
    expect(failureReason('', gateway)).toBe(
      'gateway agent requires credentials before opening a websocket; Fix: configure gateway.auth token/password, pair this device, or pass --token/--password.; Config: /home/u/.openclaw/openclaw.json',
    );
    const oldNode =
      'openclaw: Node 20.20.2: node:sqlite is unavailable; use 24.16+/26.1+ or a build with the fix.\nIf you use nvm, run:\n  nvm install 26\n  nvm use 26\n  nvm alias default 26\n';
    expect(failureReason('', oldNode)).toBe('openclaw: Node 20.20.2: node:sqlite is unavailable; use 24.16+/26.1+ or a build with the fix.');
  });

  it("reads multica's one stderr line and a stack trace's first line; bounds the length; drops control characters", () => {
    expect(failureReason('', 'Error: Too many requests\n')).toBe('Error: Too many requests');
    expect(failureReason('', 'Error: boom\n    at main (x.js:1:1)\n    at y\n')).toBe('Error: boom');
    const long = failureReason('', `${'x'.repeat(1000)}\n`);
    expect(long.length).toBe(300);
    expect(failureReason('', '\x1b[31mError:\x1b[0m red\x07\n')).toBe('Error: red');
    // A success document, or JSON that is not a failure, is no reason.
    expect(failureReason('{"ok":true}', '')).toBe('');
  });
});

describe('workboard cards', () => {
  const card = (fields: Record<string, unknown>) => ({ id: 'c', title: 't', status: 'running', agentId: 'coo', updatedAt: 5000, ...fields });

  it("reads progress as OpenClaw's stall check does: claim heartbeat, else execution update, else updatedAt", () => {
    // An edit to the card (updatedAt) is no progress while a claim reports heartbeats.
    expect(cardToTask(card({ metadata: { claim: { lastHeartbeatAt: 1000 } }, execution: { updatedAt: 3000 } }))!.updatedAt).toBe(1000);
    expect(cardToTask(card({ metadata: { claim: { lastHeartbeatAt: null } }, execution: { updatedAt: 3000 } }))!.updatedAt).toBe(3000);
    expect(cardToTask(card({ metadata: {} }))!.updatedAt).toBe(5000);
  });

  it('resolves dependencies over archived cards but never gives an agent an archived card', () => {
    const cards = [
      card({ id: 'a', status: 'ready', metadata: { links: [{ type: 'blocked_by', targetCardId: 'b' }] } }),
      card({ id: 'b', status: 'done', metadata: { archivedAt: 1 } }),
      card({ id: 'old', status: 'ready', metadata: { archivedAt: 1 } }),
    ];
    expect(cardStatuses(cards).b).toBe('done');
    expect(tasksForAgent(cards, 'coo').map((t) => t.id)).toEqual(['a']);
  });

  it('caches every board apart from one board', () => {
    expect(cardsKey(undefined)).not.toBe(cardsKey('default'));
    expect(cardsKey('default')).not.toBe(cardsKey('ops'));
  });
});

describe('dispatch timeout', () => {
  it("openclaw's own --timeout ends before claw's: 600 s inside the default 11 minutes", () => {
    expect(innerTimeoutSeconds(11 * 60_000)).toBe(600);
    expect(innerTimeoutSeconds(30 * 60_000)).toBe(1740);
    expect(innerTimeoutSeconds(5000)).toBe(4);
    expect(innerTimeoutSeconds(500)).toBe(1);
    expect(defaultDispatch.slice(defaultDispatch.indexOf('--timeout'), defaultDispatch.indexOf('--timeout') + 2)).toEqual(['--timeout', '{timeout}']);
  });
});
