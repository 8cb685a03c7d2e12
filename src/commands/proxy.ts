import { statSync } from 'node:fs';
import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import { UnavailableError, UsageError } from '../errors.js';
import { lazyStderr } from '../io.js';
import { leaseOwner } from '../lease.js';
import type { PriorityRank } from '../priority.js';
import type { ClawConfig } from '../config/config.js';
import { configFile, heartbeatsDir } from '../config/paths.js';
import { durationOption, heartbeatsDirOption, stateDirOption } from './shared/options.js';
import { openCommandStore } from './shared/open-store.js';

interface RawProxyOptions {
  host: string;
  port: string;
  grace: string;
  stateDir?: string;
  heartbeatsDir?: string;
}

export interface ProxyCommandOptions {
  host: string;
  port: number;
  graceMs: number;
}

export function parseProxyOptions(raw: RawProxyOptions): ProxyCommandOptions {
  if (!/^\d+$/.test(raw.port) || Number(raw.port) > 65535) throw new UsageError(`--port: "${raw.port}" is not a port (0-65535; 0 picks a free one)`);
  if (raw.host.trim() === '') throw new UsageError('--host is empty');
  return { host: raw.host, port: Number(raw.port), graceMs: durationOption('--grace', raw.grace) };
}

const agentCacheMs = 60_000;

export function registerProxy(program: Command, ctx: Context): void {
  program
    .command('proxy')
    .summary('an OpenAI-style gateway that admits every model request through the shared limit')
    .description(
      'A long-running local HTTP server. /<gateway>/v1/<rest> is forwarded to <gateway baseUrl>/<rest>, ' +
        'each upstream request admitted through the shared store exactly like `claw call` (one limit with ' +
        'every claw process; across hosts with Redis). Point an OpenClaw provider at it:\n' +
        '  models.providers.nvidia.baseUrl = "http://127.0.0.1:4141/nvidia/v1"\n\n' +
        'Headers: x-claw-priority (urgent, high, normal, low), x-claw-agent (roster priority, usage per agent).\n\n' +
        'Upstream 429s are retried within proxy.retryFor (2m); a spent quota blocks the gateway for every ' +
        'process and is answered 402 at once. GET /healthz, GET /metrics (Prometheus).\n\n' +
        'The first line on stdout is the URL; logs go to stderr. SIGTERM/SIGINT: drain, then exit 0.',
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', '4141')
    .option('--grace <duration>', 'on SIGTERM/SIGINT, how long requests in flight may take to finish', '30s')
    .addOption(heartbeatsDirOption())
    .addOption(stateDirOption())
    .addHelpText('after', '\nExamples:\n  claw proxy\n  claw proxy --port 0\n  curl -s http://127.0.0.1:4141/metrics')
    .action(async (raw: RawProxyOptions) => {
      const options = parseProxyOptions(raw);
      const [{ loadConfig }, { startProxy }] = await Promise.all([import('../config/config.js'), import('../proxy/server.js')]);
      const stderr = lazyStderr(ctx.io);
      const log = (line: string) => void stderr.write(`${new Date(ctx.io.now()).toISOString()} ${line}\n`);
      let config: ClawConfig = loadConfig(ctx.io.env);
      // The config is read again when its file changes, so `claw config set` applies without a restart.
      const file = configFile(ctx.io.env);
      const stamp = () => {
        try {
          return statSync(file).mtimeMs;
        } catch {
          return 0;
        }
      };
      let seen = stamp();
      let checkedAt = 0;
      const currentConfig = () => {
        const now = ctx.io.now();
        if (now - checkedAt < 1000) return config;
        checkedAt = now;
        const mtime = stamp();
        if (mtime === seen) return config;
        seen = mtime;
        try {
          config = loadConfig(ctx.io.env);
          log('claw proxy: config changed; using it');
        } catch (err) {
          log(`claw proxy: ${(err as Error).message}; keeping the config read before`);
        }
        return config;
      };
      const store = await openCommandStore(ctx, config, raw.stateDir);
      const dir = heartbeatsDir(ctx.io.env, config, ctx.io.cwd, raw.heartbeatsDir);
      const priorities = new Map<string, { priority: PriorityRank | undefined; at: number }>();
      const agentPriority = async (agent: string) => {
        const cached = priorities.get(agent);
        if (cached && ctx.io.now() - cached.at < agentCacheMs) return cached.priority;
        let priority: PriorityRank | undefined;
        try {
          const [{ loadAgent }, { readScheduleBook }] = await Promise.all([import('../config/roster.js'), import('../cron/schedule-book.js')]);
          priority = (await loadAgent(dir, agent, await readScheduleBook(store), ctx.io.now())).priority;
        } catch {
          // Not in the roster (or no roster): the header's agent still counts usage; proxy.priority applies.
        }
        if (priorities.size >= 1000) priorities.clear();
        priorities.set(agent, { priority, at: ctx.io.now() });
        return priority;
      };
      let proxy;
      try {
        proxy = await startProxy({
          host: options.host,
          port: options.port,
          store,
          config: currentConfig,
          env: ctx.io.env,
          clock: ctx.io.now,
          log,
          agentPriority,
          origin: `proxy@${leaseOwner()}`,
        });
      } catch (err) {
        await store.close();
        const code = (err as NodeJS.ErrnoException).code;
        throw new UnavailableError(
          `cannot listen on ${options.host}:${options.port}: ${code ?? (err as Error).message}${code === 'EADDRINUSE' ? ' (another proxy running? pick another --port)' : ''}`,
        );
      }
      ctx.io.stdout.write(`claw proxy listening on ${proxy.url}\n`);
      log(`claw proxy: store ${store.kind} ${store.location}; listening on ${proxy.url}`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      log(`claw proxy: ${signal}: stopping (${proxy.stats.inFlight} in flight, up to ${raw.grace} to finish)`);
      await proxy.shutdown(options.graceMs);
      await store.close();
      log('claw proxy: stopped');
    });
}
