import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import { openCommandStore } from './shared/open-store.js';
import { UsageError } from '../errors.js';
import { defaultBackoff } from '../limiter/backoff.js';
import { countOption, durationOption, priorityOption, stateDirOption } from './shared/options.js';
import type { CallOptions, CallTarget } from '../call/run.js';

interface RawCallOptions {
  gateway?: string;
  model?: string;
  priority: string;
  maxWait?: string;
  fallbackModel?: string;
  retries: string;
  retryOn?: string;
  retryExitCodes?: string;
  backoffBase: string;
  backoffCap: string;
  prompt?: string;
  body?: string;
  timeout: string;
  json?: boolean;
  dryRun?: boolean;
  stateDir?: string;
}

const defaultRetryOn = '429|Too Many Requests|rate limit';

async function readStdin(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

/** Turns the command line into a typed CallOptions; every refusal is a UsageError (exit 64). */
export async function parseCallOptions(raw: RawCallOptions, command: string[], stdin: NodeJS.ReadableStream): Promise<CallOptions> {
  const priority = priorityOption(raw.priority);
  const backoff = {
    retries: countOption('--retries', raw.retries),
    baseMs: durationOption('--backoff-base', raw.backoffBase),
    capMs: durationOption('--backoff-cap', raw.backoffCap),
  };
  const httpForm = raw.prompt !== undefined || raw.body !== undefined;
  if (httpForm && command.length > 0) throw new UsageError('give either a command after -- or --prompt/--body, not both');
  if (!httpForm && command.length === 0) throw new UsageError('nothing to call: give a command after -- or --prompt "..." (see `claw call --help`)');
  if (!raw.gateway && !raw.model) throw new UsageError('no gateway: pass --gateway <name> or --model <provider/model>');
  let target: CallTarget;
  if (httpForm) {
    if (raw.prompt !== undefined && raw.body !== undefined) throw new UsageError('give --prompt or --body, not both');
    let body: Record<string, unknown>;
    if (raw.body !== undefined) {
      let text: string;
      try {
        text = readFileSync(raw.body, 'utf8');
      } catch (err) {
        throw new UsageError(`--body: cannot read ${raw.body}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        throw new UsageError(`--body: ${raw.body} is not JSON (${(err as Error).message})`);
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new UsageError(`--body: ${raw.body} must hold a JSON object`);
    } else {
      const prompt = raw.prompt === '-' ? await readStdin(stdin) : raw.prompt!;
      if (prompt.trim() === '') throw new UsageError('--prompt is empty');
      body = { messages: [{ role: 'user', content: prompt }] };
    }
    target = { kind: 'http', body, timeoutMs: durationOption('--timeout', raw.timeout) };
  } else {
    let retryOn: RegExp;
    try {
      retryOn = new RegExp(raw.retryOn ?? defaultRetryOn, 'i');
    } catch (err) {
      throw new UsageError(`--retry-on: ${(err as Error).message}`);
    }
    const retryExitCodes = (raw.retryExitCodes ?? '')
      .split(',')
      .filter((code) => code.trim() !== '')
      .map((code) => countOption('--retry-exit-codes', code));
    target = { kind: 'command', argv: command, retryOn, retryExitCodes };
  }
  return {
    ...(raw.gateway ? { gateway: raw.gateway } : {}),
    ...(raw.model ? { model: raw.model } : {}),
    ...(raw.fallbackModel ? { fallbackModel: raw.fallbackModel } : {}),
    ...(raw.maxWait !== undefined ? { maxWaitMs: durationOption('--max-wait', raw.maxWait) } : {}),
    priority,
    backoff,
    json: Boolean(raw.json),
    dryRun: Boolean(raw.dryRun),
    target,
  };
}

export function registerCall(program: Command, ctx: Context): void {
  program
    .command('call')
    .summary('run a model call (a command or an HTTP request) through the shared limit')
    .description(
      'Admit one call through the shared limit, then run it.\n\n' +
        'Command form: `claw call --gateway nvidia -- <command> [args...]` runs the command without a shell once admitted ' +
        'and exits with its exit code; {model} in its arguments becomes the model used, CLAW_MODEL and CLAW_GATEWAY are set in its environment.\n\n' +
        'HTTP form: `claw call --model nvidia/deepseek-ai/deepseek-v4-pro --prompt "..."` POSTs an OpenAI-style chat completion ' +
        'to the gateway\'s baseUrl with the key from its apiKeyEnv and prints the reply (--json: the whole response, with "ok": true added).\n\n' +
        'When no slot is free, urgent/high/normal wait until admitted and low waits 2s; --max-wait caps the wait, ' +
        'then --fallback-model is used if its gateway has room, else exit 75. ' +
        "An upstream 429 blocks the gateway for every process for its Retry-After, cut to the gateway's maxRetryAfter (default 10m); " +
        '`claw status` shows the block and `claw unblock <gateway>` clears it.',
    )
    .argument('[command...]', 'the command to run once admitted (after --)')
    .option('-g, --gateway <name>', 'gateway to admit through (default: the provider part of --model)')
    .option('-m, --model <ref>', 'model ref provider/model, e.g. nvidia/deepseek-ai/deepseek-v4-pro')
    .option('-p, --priority <priority>', 'urgent, high, normal or low (or 1-4)', 'normal')
    .option('--max-wait <duration>', 'give up (or fall back) after waiting this long in all (slots, 429 blocks, retries), e.g. 30s')
    .option('--fallback-model <ref>', 'model to use when the wait runs out and its gateway has room')
    .option('--retries <n>', 'retries after a rate limit or server error', String(defaultBackoff.retries))
    .option('--retry-on <regex>', `retry the command when its output matches (default: ${defaultRetryOn})`)
    .option('--retry-exit-codes <codes>', 'retry the command when it exits with one of these, e.g. 1,75')
    .option('--backoff-base <duration>', 'first retry delay (exponential, full jitter)', '1s')
    .option('--backoff-cap <duration>', 'longest retry delay', '60s')
    .option('--prompt <text>', 'HTTP form: the user message ("-" reads stdin)')
    .option('--body <file>', 'HTTP form: a full chat-completion request body (JSON)')
    .option('--timeout <duration>', 'HTTP form: how long to wait for the answer', '120s')
    .option('--json', 'HTTP form: print the whole response; errors as JSON')
    .option('--dry-run', 'show the gateway, free slots and estimated wait; admit nothing')
    .addOption(stateDirOption())
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  claw call --gateway nvidia --priority high -- openclaw agent --agent coo --message "check" --json\n' +
        '  claw call --model nvidia/deepseek-ai/deepseek-v4-pro --fallback-model deepseek/deepseek-chat --priority low -- my-tool --model {model}\n' +
        '  echo "Summarise" | claw call --model nvidia/deepseek-ai/deepseek-v4-pro --prompt -\n' +
        '  claw call --gateway nvidia --dry-run -- true',
    )
    .action(async (command: string[], raw: RawCallOptions) => {
      const options = await parseCallOptions(raw, command, ctx.io.stdin);
      const [{ loadConfig }, { planCall, runCall }] = await Promise.all([import('../config/config.js'), import('../call/run.js')]);
      const config = loadConfig(ctx.io.env);
      // Refuse bad input (unknown command, missing key) before the store is touched.
      const plan = planCall(options, config, ctx.io);
      const store = await openCommandStore(ctx, config, raw.stateDir);
      try {
        ctx.exitCode = await runCall(options, plan, store, ctx.io);
      } finally {
        await store.close();
      }
    });
}
