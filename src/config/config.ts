// User configuration: read fast on every start (plain JSON), validated with reasons.
// Writes go through `conf` in the config command only, so cron starts never load it.
import { ConfigError } from '../errors.js';
import { formatDuration, parseDuration } from '../duration.js';
import { secretValues, storeUrlProblem } from '../redact.js';
import { readRegularFile } from './files.js';
import { parsePriority } from '../priority.js';
import { configFile } from './paths.js';

export interface GatewayConfig {
  match?: string[];
  /** Requests admitted in any rolling `window`; absent = unlimited. */
  limit?: number;
  window?: string | number;
  /** At most this many admissions in any window/limit*burst span: caps back-to-back bursts. */
  burst?: number;
  /** Share of the window that `low` priority never takes (default 0.2). */
  reserveLow?: number;
  /** Extra time a slot stays taken after its request is sent, for network latency (default 250ms). */
  margin?: string | number;
  /** The longest an upstream Retry-After may block the gateway (default 10m, at most 24h). */
  maxRetryAfter?: string | number;
  baseUrl?: string;
  apiKeyEnv?: string;
  /** How long a spent quota (402, insufficient_quota) blocks the gateway when the answer says no reset (default 1h). */
  quotaBlock?: string | number;
  /** Its model requests go through `claw proxy`, which admits each one: heartbeat dispatches take no slot of their own. */
  proxied?: boolean;
}

export interface ProxyConfig {
  /** How long a request may wait in the queue and retry upstream 429s before the proxy answers 429 (default 2m). */
  retryFor?: string | number;
  /** Priority of requests without x-claw-priority or a known x-claw-agent (default normal). */
  priority?: string;
  /** Request bodies larger than this many bytes are refused with 413 (default 16 MiB). */
  maxBodyBytes?: number;
}

export interface ClawConfig {
  gateways?: Record<string, GatewayConfig>;
  heartbeatsDir?: string;
  cache?: { ttl?: Record<string, string | number>; staleFor?: string | number };
  store?: string;
  storePrefix?: string;
  storeFallback?: 'local' | 'none';
  /** How WorkBoard cards are read: the plugin's database when claw knows its schema (auto), always it (db), or the CLI. */
  workboard?: { read?: 'auto' | 'db' | 'cli' };
  /** How long heartbeat run records are kept (default 30d). */
  runs?: { retention?: string | number };
  /** `<state dir>/logs/*.log`: rotated past maxSize (default 10 MB), keeping `keep` old files (default 3). */
  logs?: { maxSize?: string | number; keep?: number };
  proxy?: ProxyConfig;
}

export const builtinGateways: Record<string, GatewayConfig> = {
  nvidia: {
    match: ['nvidia', 'nvidia-gateway', 'nvidia_gateway', 'nvidiavx18088980513', 'nvidia*'],
    limit: 40,
    window: '60s',
    baseUrl: 'https://integrate.api.nvidia.com/v1',
    apiKeyEnv: 'NVIDIA_API_KEY',
  },
  volcengine: {
    match: ['volcengine'],
    baseUrl: 'https://ark.cn-beijing.volces.com/api/v3',
    apiKeyEnv: 'VOLCENGINE_API_KEY',
  },
  'volcengine-plan': {
    match: ['volcengine-plan'],
    baseUrl: 'https://ark.cn-beijing.volces.com/api/coding/v3',
    apiKeyEnv: 'VOLCENGINE_API_KEY',
  },
  siliconflow: {
    match: ['siliconflow'],
    baseUrl: 'https://api.siliconflow.cn/v1',
    apiKeyEnv: 'SILICONFLOW_API_KEY',
  },
  deepseek: {
    match: ['deepseek', 'deepseek-api'],
    baseUrl: 'https://api.deepseek.com/v1',
    apiKeyEnv: 'DEEPSEEK_API_KEY',
  },
};

const topLevelKeys = new Set(['gateways', 'heartbeatsDir', 'cache', 'store', 'storePrefix', 'storeFallback', 'workboard', 'runs', 'logs', 'proxy']);
const gatewayKeys = new Set(['match', 'limit', 'window', 'burst', 'reserveLow', 'margin', 'maxRetryAfter', 'baseUrl', 'apiKeyEnv', 'quotaBlock', 'proxied']);
const proxyKeys = new Set(['retryFor', 'priority', 'maxBodyBytes']);

/** The ranges a setting may take: outside them the limiter's arithmetic stops meaning anything. */
export const ranges = {
  limit: { min: 1, max: 1_000_000 },
  windowMs: { min: 1, max: 24 * 3_600_000 },
  marginMs: { min: 0, max: 3_600_000 },
  ttlMs: { min: 0, max: 30 * 24 * 3_600_000 },
  maxRetryAfterMs: { min: 0, max: 24 * 3_600_000 },
  quotaBlockMs: { min: 1000, max: 31 * 24 * 3_600_000 },
} as const;

/**
 * Names that become object keys (gateways, cache categories): letters, digits, "-" and "_", and not
 * one of the names every JavaScript object already has.
 */
export function nameProblem(name: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) return `"${name}" is not a valid name (use letters, digits, "-" and "_")`;
  if (name === 'constructor' || name === 'prototype' || name in Object.prototype) return `"${name}" is a reserved name; choose another`;
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns the reason the config is invalid, naming the key, or undefined when it is valid. */
export function configProblem(config: unknown): string | undefined {
  if (!isObject(config)) return 'the config must be a JSON object';
  for (const key of Object.keys(config)) {
    if (!topLevelKeys.has(key)) return `unknown key "${key}" (known: ${[...topLevelKeys].join(', ')})`;
  }
  if (config.gateways !== undefined) {
    if (!isObject(config.gateways)) return '"gateways" must be an object of gateway name -> settings';
    for (const [name, gateway] of Object.entries(config.gateways)) {
      const badName = nameProblem(name);
      if (badName) return `gateways: ${badName}`;
      const problem = gatewayProblem(gateway);
      if (problem) return `gateways.${name}: ${problem}`;
    }
  }
  for (const key of ['heartbeatsDir', 'store', 'storePrefix'] as const) {
    if (config[key] !== undefined && typeof config[key] !== 'string') return `"${key}" must be a string`;
  }
  if (typeof config.store === 'string') {
    const problem = storeUrlProblem(config.store);
    if (problem) return `store: ${problem}`;
  }
  if (config.storeFallback !== undefined && config.storeFallback !== 'local' && config.storeFallback !== 'none') {
    return '"storeFallback" must be "local" or "none"';
  }
  const growth = growthProblem(config);
  if (growth) return growth;
  if (config.proxy !== undefined) {
    if (!isObject(config.proxy)) return '"proxy" must be an object';
    for (const key of Object.keys(config.proxy)) {
      if (!proxyKeys.has(key)) return `unknown key "proxy.${key}" (known: ${[...proxyKeys].join(', ')})`;
    }
    const { retryFor, priority, maxBodyBytes } = config.proxy;
    if (retryFor !== undefined && parseDuration(retryFor as string | number) === undefined)
      return `proxy.retryFor: ${JSON.stringify(retryFor)} is not a duration (use 500ms, 2s, 10m, 1h or seconds)`;
    if (priority !== undefined && (typeof priority !== 'string' || parsePriority(priority) === undefined)) {
      return `proxy.priority: ${JSON.stringify(priority)} is not a priority (urgent, high, normal or low)`;
    }
    if (maxBodyBytes !== undefined && (!Number.isInteger(maxBodyBytes) || (maxBodyBytes as number) < 1)) {
      return `proxy.maxBodyBytes must be a whole number of bytes >= 1, got ${JSON.stringify(maxBodyBytes)}`;
    }
  }
  if (config.cache !== undefined) {
    if (!isObject(config.cache)) return '"cache" must be an object';
    for (const key of Object.keys(config.cache)) {
      if (key !== 'ttl' && key !== 'staleFor') return `unknown key "cache.${key}" (known: ttl, staleFor)`;
    }
    if (config.cache.staleFor !== undefined) {
      const problem = durationProblem(config.cache.staleFor, ranges.ttlMs);
      if (problem) return `"cache.staleFor" ${problem}`;
    }
    if (config.cache.ttl !== undefined) {
      if (!isObject(config.cache.ttl)) return '"cache.ttl" must be an object of category -> duration';
      for (const [category, ttl] of Object.entries(config.cache.ttl)) {
        const badName = nameProblem(category);
        if (badName) return `cache.ttl: ${badName}`;
        const problem = durationProblem(ttl, ranges.ttlMs);
        if (problem) return `"cache.ttl.${category}" ${problem}`;
      }
    }
  }
  return undefined;
}

/** Why a duration setting is refused (not a duration, or outside its range), or undefined. */
function durationProblem(value: unknown, range: { min: number; max: number }): string | undefined {
  const ms = typeof value === 'string' || typeof value === 'number' ? parseDuration(value) : undefined;
  const span = `from ${formatDuration(range.min)} to ${formatDuration(range.max)}`;
  if (ms === undefined) return `must be a duration ${span} (500ms, 2s, 10m, 1h or seconds), got ${JSON.stringify(value)}`;
  if (!Number.isFinite(ms) || ms < range.min || ms > range.max) return `must be a duration ${span}, got ${JSON.stringify(value)}`;
  return undefined;
}

/** `workboard.read`, `runs.retention`, `logs.maxSize`, `logs.keep`. */
function growthProblem(config: Record<string, unknown>): string | undefined {
  const sections: Record<string, string[]> = { workboard: ['read'], runs: ['retention'], logs: ['maxSize', 'keep'] };
  for (const [section, keys] of Object.entries(sections)) {
    const value = config[section];
    if (value === undefined) continue;
    if (!isObject(value)) return `"${section}" must be an object`;
    for (const key of Object.keys(value)) if (!keys.includes(key)) return `unknown key "${section}.${key}" (known: ${keys.join(', ')})`;
  }
  const { workboard, runs, logs } = config as { workboard?: Record<string, unknown>; runs?: Record<string, unknown>; logs?: Record<string, unknown> };
  if (workboard?.read !== undefined && !['auto', 'db', 'cli'].includes(workboard.read as string)) {
    return `workboard.read must be "auto", "db" or "cli", got ${JSON.stringify(workboard.read)}`;
  }
  if (runs?.retention !== undefined && !((parseDuration(runs.retention as string) ?? 0) >= 3_600_000)) {
    return `runs.retention must be a duration of at least 1h (e.g. 30d, 72h), got ${JSON.stringify(runs.retention)}`;
  }
  if (logs?.maxSize !== undefined && parseSize(logs.maxSize) === undefined) {
    return `logs.maxSize must be a size such as 10MB, 512KB or a number of bytes (0 = never rotate), got ${JSON.stringify(logs.maxSize)}`;
  }
  if (logs?.keep !== undefined && (!Number.isInteger(logs.keep) || (logs.keep as number) < 0 || (logs.keep as number) > 100)) {
    return `logs.keep must be a whole number of old files from 0 to 100, got ${JSON.stringify(logs.keep)}`;
  }
  return undefined;
}

/** `10MB`, `512KB`, `1GB` or a number of bytes. */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?\s*$/.exec(value.toLowerCase());
  if (!match) return undefined;
  const unit = { b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 }[match[2] ?? 'b']!;
  return Math.round(Number(match[1]) * unit);
}

/** Run records older than this are deleted (runs.retention, default 30 days). */
export function runRetentionMs(config: ClawConfig): number {
  return config.runs?.retention !== undefined ? parseDuration(config.runs.retention)! : 30 * 86_400_000;
}

function gatewayProblem(gateway: unknown): string | undefined {
  if (!isObject(gateway)) return 'must be an object';
  for (const key of Object.keys(gateway)) {
    if (!gatewayKeys.has(key)) return `unknown key "${key}" (known: ${[...gatewayKeys].join(', ')})`;
  }
  const { match, limit, window, burst, reserveLow, margin, baseUrl, apiKeyEnv, quotaBlock, proxied } = gateway;
  if (match !== undefined && (!Array.isArray(match) || match.some((m) => typeof m !== 'string' || m === ''))) {
    return '"match" must be a list of provider ids or patterns such as "nvidia*"';
  }
  const { min, max } = ranges.limit;
  if (limit !== undefined && limit !== null && (!Number.isInteger(limit) || (limit as number) < min || (limit as number) > max)) {
    return `"limit" must be a whole number of requests >= ${min} and <= ${max}, got ${JSON.stringify(limit)}`;
  }
  if (window !== undefined) {
    const problem = durationProblem(window, ranges.windowMs);
    if (problem) return `"window" ${problem.replace('a duration', 'a positive duration')}`;
  }
  if (burst !== undefined && (!Number.isInteger(burst) || (burst as number) < min || (burst as number) > max)) {
    return `"burst" must be a whole number >= ${min} and <= ${max}, got ${JSON.stringify(burst)}`;
  }
  if (typeof limit === 'number' && typeof burst === 'number' && burst > limit) {
    return `"burst" (${burst}) cannot exceed "limit" (${limit})`;
  }
  if (reserveLow !== undefined && (typeof reserveLow !== 'number' || reserveLow < 0 || reserveLow >= 1)) {
    return `"reserveLow" must be a fraction from 0 to below 1, got ${JSON.stringify(reserveLow)}`;
  }
  if (margin !== undefined) {
    const problem = durationProblem(margin, ranges.marginMs);
    if (problem) return `"margin" ${problem}`;
  }
  if (gateway.maxRetryAfter !== undefined) {
    const problem = durationProblem(gateway.maxRetryAfter, ranges.maxRetryAfterMs);
    if (problem) return `"maxRetryAfter" ${problem}`;
  }
  if (baseUrl !== undefined && (typeof baseUrl !== 'string' || !/^https?:\/\/\S+$/.test(baseUrl))) {
    return `"baseUrl" must be an http(s) URL, got ${JSON.stringify(baseUrl)}`;
  }
  if (apiKeyEnv !== undefined && (typeof apiKeyEnv !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(apiKeyEnv))) {
    return `"apiKeyEnv" must be an environment variable name, got ${JSON.stringify(apiKeyEnv)}`;
  }
  if (quotaBlock !== undefined) {
    const problem = durationProblem(quotaBlock, ranges.quotaBlockMs);
    if (problem) return `"quotaBlock" ${problem}`;
  }
  if (proxied !== undefined && typeof proxied !== 'boolean') return `"proxied" must be true or false, got ${JSON.stringify(proxied)}`;
  return undefined;
}

/**
 * The config file as JSON, unvalidated: undefined when there is none. A file that cannot be read or
 * parsed is a ConfigError naming the file and the fix.
 */
export function readConfigJson(env: NodeJS.ProcessEnv): unknown {
  const file = configFile(env);
  const text = readRegularFile(file, 'the config file');
  if (text === undefined) return undefined;
  try {
    return text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid JSON (${(err as Error).message}); fix it by hand or move it aside (mv ${file} ${file}.broken)`);
  }
}

/** Reads and validates the user config; a missing file is an empty config. */
export function loadConfig(env: NodeJS.ProcessEnv): ClawConfig {
  const file = configFile(env);
  const config = readConfigJson(env);
  if (config === undefined) return {};
  const problem = configProblem(config);
  if (problem) throw new ConfigError(`${file}: ${problem}; fix it with \`claw config set\` or \`claw config unset\``);
  return config as ClawConfig;
}

/** Built-in gateways overlaid by the user's, key by key. */
export function gatewayConfigs(config: ClawConfig): Record<string, GatewayConfig> {
  const merged: Record<string, GatewayConfig> = {};
  for (const [name, gateway] of Object.entries(builtinGateways)) merged[name] = { ...gateway };
  for (const [name, gateway] of Object.entries(config.gateways ?? {})) merged[name] = { ...merged[name], ...gateway };
  return merged;
}

const secretsByEnv = new WeakMap<NodeJS.ProcessEnv, string[]>();

/**
 * The secret values claw must never print, store or send for this environment: see secretValues.
 * The config file is read for its gateways' `apiKeyEnv` and its store URL; a broken or missing one
 * adds nothing (the command reports it on its own). Remembered per env object.
 */
export function knownSecrets(env: NodeJS.ProcessEnv): string[] {
  let values = secretsByEnv.get(env);
  if (!values) {
    let config: ClawConfig = {};
    try {
      const raw = readConfigJson(env);
      if (isObject(raw)) config = raw as ClawConfig;
    } catch {
      // unreadable or not JSON: the environment's secrets still count
    }
    values = secretValues(env, config);
    secretsByEnv.set(env, values);
  }
  return values;
}
