// `claw call`: admit through the shared limit, run the call, retry rate limits with backoff.
import { ConfigError, TempFailError, UnavailableError, UsageError } from '../errors.js';
import { formatDuration } from '../duration.js';
import type { IO } from '../io.js';
import { sleep } from '../io.js';
import { priorities, priorityName, type PriorityRank } from '../priority.js';
import type { ClawConfig } from '../config/config.js';
import { decide, freeSlots } from '../limiter/admission.js';
import { backoffDelay, type BackoffPolicy, type RetryAfter } from '../limiter/backoff.js';
import { modelIdOf, resolveGateway, type Gateway } from '../limiter/gateways.js';
import { admitCall, defaultMaxWait, fallbackFor, startWindow, type CallAdmission, type WaitProgress } from '../limiter/limiter.js';
import type { Store } from '../store/types.js';
import { findExecutable, runCommand } from './command.js';
import { postChat, redact, replyText } from './http.js';
import { quotaBlock } from '../proxy/blocks.js';
import { builtinModule, ownPid } from '../host.js';
import { writeJson } from '../output/json.js';

export type CallTarget =
  { kind: 'command'; argv: string[]; retryOn: RegExp; retryExitCodes: number[] } | { kind: 'http'; body: Record<string, unknown>; timeoutMs: number };

export interface CallOptions {
  gateway?: string;
  model?: string;
  fallbackModel?: string;
  priority: PriorityRank;
  maxWaitMs?: number;
  backoff: BackoffPolicy;
  json: boolean;
  dryRun: boolean;
  target: CallTarget;
}

interface Attempt {
  /** What the attempt produced: an exit code or the response. */
  exitCode: number;
  response?: unknown;
  retryable: boolean;
  rateLimited: boolean;
  retryAfter?: RetryAfter;
  /** The upstream's reason for a 429 (no secrets). */
  upstreamMessage?: string;
  failure?: string;
}

/** Who saw a 429, for `claw status`: never a secret. */
function blockOrigin(gateway: string, env: NodeJS.ProcessEnv): string {
  let host = env.HOSTNAME ?? '';
  try {
    host = builtinModule<typeof import('node:os')>('node:os')!.hostname();
  } catch {
    // keep HOSTNAME
  }
  return `429 from ${gateway} via claw call (pid ${ownPid}${host ? `, host ${host}` : ''})`;
}

/** The upstream's reason, and the Retry-After when it was cut to the ceiling. */
function blockMessage(attempt: Attempt): string | undefined {
  const ra = attempt.retryAfter;
  const capped =
    ra && ra.askedMs > ra.ms ? `Retry-After ${Number.isFinite(ra.askedMs) ? formatDuration(ra.askedMs) : 'out of range'} cut to ${formatDuration(ra.ms)}` : '';
  return [attempt.upstreamMessage, capped].filter(Boolean).join('; ') || undefined;
}

function apiKeyFor(gateway: Gateway, env: NodeJS.ProcessEnv): string {
  if (!gateway.baseUrl) {
    throw new ConfigError(`gateway ${gateway.name} has no baseUrl; set it with \`claw config set gateways.${gateway.name}.baseUrl https://...\``);
  }
  const variable = gateway.apiKeyEnv ?? `${gateway.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_API_KEY`;
  const key = env[variable];
  if (!key) throw new ConfigError(`${variable} is not set: export it with the API key for gateway ${gateway.name} (or set gateways.${gateway.name}.apiKeyEnv)`);
  return key;
}

/** Everything that can be refused is refused here, before the store is touched. */
export function planCall(options: CallOptions, config: ClawConfig, io: IO) {
  const primary = resolveGateway(config, { ...(options.gateway ? { gateway: options.gateway } : {}), ...(options.model ? { model: options.model } : {}) });
  const fallback = fallbackFor(config, options.fallbackModel);
  const keys = new Map<string, string>();
  if (options.target.kind === 'command') {
    const command = options.target.argv[0]!;
    if (!findExecutable(command, io.env, io.cwd)) {
      throw new UnavailableError(`command not found: ${command} (not an executable file${command.includes('/') ? '' : ' on PATH'})`);
    }
  } else {
    if (!options.model && options.target.body.model === undefined)
      throw new UsageError('the HTTP form needs --model <provider/model> (or a "model" in --body)');
    for (const gateway of [primary, fallback?.gateway]) if (gateway) keys.set(gateway.name, apiKeyFor(gateway, io.env));
  }
  return { primary, fallback, keys };
}

export type CallPlan = ReturnType<typeof planCall>;

export async function runCall(options: CallOptions, plan: CallPlan, store: Store, io: IO): Promise<number> {
  const { keys } = plan;
  let { primary, fallback } = plan;
  const maxWaitMs = options.maxWaitMs ?? defaultMaxWait(options.priority);
  if (options.dryRun) return dryRun(options, primary, store, io, maxWaitMs);
  // A spent quota (set by `claw proxy` or any process): no call to the provider; the fallback model, else exit 75.
  const quota = await quotaBlock(store, primary);
  let model = options.model;
  if (quota) {
    const why = `gateway ${primary.name} is blocked until ${new Date(quota.until).toISOString()} (quota spent${quota.message ? `: ${quota.message}` : ''})`;
    if (!fallback) throw new TempFailError(`${why}; pass --fallback-model or try again then`);
    [primary, model, fallback] = [fallback.gateway, fallback.model, undefined];
  }

  const live = liveLine(io);
  // --max-wait bounds all the waiting of this call: for slots, for a 429's block, between retries.
  const started = io.now();
  const left = () => (maxWaitMs === undefined ? undefined : Math.max(0, maxWaitMs - (io.now() - started)));
  const patience = maxWaitMs === undefined ? undefined : `within ${formatDuration(maxWaitMs)}`;
  let last: Attempt | undefined;
  for (let attempt = 0; ; attempt++) {
    const budget = left();
    const admission = await admitCall(store, {
      gateway: primary,
      priority: options.priority,
      ...(budget !== undefined ? { maxWaitMs: budget } : {}),
      ...(patience ? { patience } : {}),
      ...(model ? { model } : {}),
      ...(fallback ? { fallback } : {}),
      clock: io.now,
      sleep,
      onWait: live.update,
      onStoreError: reportOnce(io),
    });
    live.clear();
    last =
      options.target.kind === 'command'
        ? await attemptCommand(options.target, admission, store, io)
        : await attemptHttp(options, options.target, admission, keys.get(admission.gateway.name)!, store, io);
    if (last.rateLimited) {
      await store.count(admission.gateway.name, 'rateLimited');
      if (last.retryAfter && last.retryAfter.ms > 0) {
        // The block (Retry-After, cut to the gateway's maxRetryAfter) holds every process back; the
        // next admission waits for it, within what is left of --max-wait.
        const message = blockMessage(last);
        await store.blockUntil(admission.gateway.name, (await store.now()) + last.retryAfter.ms, {
          reason: 'rate_limited',
          origin: blockOrigin(admission.gateway.name, io.env),
          ...(message ? { message } : {}),
        });
      }
    }
    if (!last.retryable || attempt >= options.backoff.retries) break;
    await store.count(admission.gateway.name, 'retries');
    // Backoff between attempts, never past --backoff-cap nor past what is left of --max-wait.
    const delay = backoffDelay(options.backoff, attempt);
    const remaining = left();
    await sleep(remaining === undefined ? delay : Math.min(delay, remaining));
  }
  if (options.target.kind === 'command') return last.exitCode;
  if (last.retryable) throw new TempFailError(`${last.failure} after ${options.backoff.retries} retries; try again later`);
  // The whole response with `ok` added (a reply that is not an object is put under `response`).
  const response = last.response;
  if (options.json) writeJson(io.stdout, typeof response === 'object' && response !== null && !Array.isArray(response) ? response : { response });
  else io.stdout.write(`${replyText(last.response)}\n`);
  return 0;
}

async function attemptCommand(target: Extract<CallTarget, { kind: 'command' }>, admission: CallAdmission, store: Store, io: IO): Promise<Attempt> {
  const model = admission.model ?? '';
  const argv = target.argv.map((arg) => arg.split('{model}').join(model));
  let sent: Promise<void> | undefined;
  const result = await runCommand({
    argv,
    runner: io.runner,
    env: { ...io.env, CLAW_MODEL: model, CLAW_GATEWAY: admission.gateway.name },
    cwd: io.cwd,
    stdout: io.stdout,
    stderr: io.stderr,
    retryOn: target.retryOn,
    onSpawn: () => {
      sent = startWindow(store, admission);
    },
  });
  await sent;
  const retryable = result.matchedRetryOn || target.retryExitCodes.includes(result.exitCode);
  return { exitCode: result.exitCode, retryable: retryable && result.exitCode !== 0, rateLimited: result.matchedRetryOn };
}

async function attemptHttp(
  options: CallOptions,
  target: Extract<CallTarget, { kind: 'http' }>,
  admission: CallAdmission,
  apiKey: string,
  store: Store,
  io: IO,
): Promise<Attempt> {
  const model = admission.model ?? options.model;
  const body = { ...target.body, ...(model && (admission.fellBack || target.body.model === undefined) ? { model: modelIdOf(model) } : {}) };
  const url = `${admission.gateway.baseUrl!.replace(/\/+$/, '')}/chat/completions`;
  let sent: Promise<void> | undefined;
  const outcome = await postChat({
    url,
    apiKey,
    body,
    timeoutMs: target.timeoutMs,
    now: io.now,
    maxRetryAfterMs: admission.gateway.maxRetryAfterMs,
    onSent: () => {
      sent = startWindow(store, admission);
    },
  }).finally(() => sent);
  if (outcome.kind === 'ok') return { exitCode: 0, response: outcome.response, retryable: false, rateLimited: false };
  if (outcome.kind === 'rateLimited') {
    return {
      exitCode: 75,
      retryable: true,
      rateLimited: true,
      upstreamMessage: outcome.message,
      ...(outcome.retryAfter ? { retryAfter: outcome.retryAfter } : {}),
      failure: `${admission.gateway.name} answered 429 Too Many Requests`,
    };
  }
  return {
    exitCode: 75,
    retryable: true,
    rateLimited: false,
    failure: `${admission.gateway.name} answered ${outcome.status}: ${redact(outcome.message, apiKey)}`,
  };
}

async function dryRun(options: CallOptions, gateway: Gateway, store: Store, io: IO, maxWaitMs: number | undefined): Promise<number> {
  const state = await store.gatewayState(gateway);
  // Live waiters at this priority or above rank ahead of a new request.
  const ahead = priorities.slice(0, options.priority).reduce((sum, name) => sum + state.waiters[name], 0);
  const decision = gateway.limited
    ? decide(gateway, options.priority, state.now, { times: state.times, ahead, blockedUntil: state.blockedUntil })
    : { admit: true as const };
  const free = gateway.limited ? freeSlots(gateway, options.priority, state.now, state.times) : null;
  const estimatedWaitMs = decision.admit ? 0 : Math.max(0, decision.estimateAt - state.now);
  const would: Record<string, unknown> =
    options.target.kind === 'command'
      ? { run: options.target.argv }
      : { post: `${gateway.baseUrl?.replace(/\/+$/, '')}/chat/completions`, model: options.model ? modelIdOf(options.model) : options.target.body.model };
  if (options.json) {
    writeJson(io.stdout, {
      dryRun: true,
      gateway: gateway.name,
      limited: gateway.limited,
      limit: gateway.limited ? gateway.limit : null,
      windowMs: gateway.limited ? gateway.windowMs : null,
      priority: priorityName(options.priority),
      free,
      estimatedWaitMs,
      maxWaitMs: maxWaitMs ?? null,
      would,
    });
    return 0;
  }
  const limit = gateway.limited ? `limited to ${gateway.limit} per ${formatDuration(gateway.windowMs)}, ${free} free now` : 'not limited';
  io.stdout.write(
    `[dry run] gateway ${gateway.name}: ${limit}; estimated wait ${formatDuration(estimatedWaitMs)} at ${priorityName(options.priority)} priority\n`,
  );
  io.stdout.write(
    options.target.kind === 'command'
      ? `[dry run] would run: ${options.target.argv.join(' ')}\n`
      : `[dry run] would POST ${String(would.post)} (model ${String(would.model)})\n`,
  );
  return 0;
}

/** A store that went away mid-wait is reported once per process; the wait goes on. */
function reportOnce(io: IO) {
  let reported = false;
  return (err: Error) => {
    if (reported) return;
    reported = true;
    io.stderr.write(`claw: ${err.message}; waiting for it to come back\n`);
  };
}

/** On a TTY, a wait longer than a second shows one live line; off a TTY nothing extra. */
function liveLine(io: IO) {
  let shown = false;
  return {
    update: (progress: WaitProgress) => {
      if (!io.stderr.isTTY || progress.waitedMs < 1000) return;
      shown = true;
      io.stderr.write(
        `\r\x1b[2Kwaiting for ${progress.gateway}: #${progress.position} in queue (${priorityName(progress.priority)}), ` +
          `~${formatDuration(progress.estimateMs)}${progress.reason === 'blocked' ? ' (gateway answered 429, backing off)' : ''}`,
      );
    },
    clear: () => {
      if (shown) io.stderr.write('\r\x1b[2K');
      shown = false;
    },
  };
}
