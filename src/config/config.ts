// User configuration: read fast on every start (plain JSON), validated with reasons.
// Writes go through `conf` in the config command only, so cron starts never load it.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { parseDuration } from '../duration.js';
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

const topLevelKeys = new Set(['gateways', 'heartbeatsDir', 'cache', 'store', 'storePrefix', 'storeFallback', 'proxy']);
const gatewayKeys = new Set(['match', 'limit', 'window', 'burst', 'reserveLow', 'margin', 'baseUrl', 'apiKeyEnv', 'quotaBlock', 'proxied']);
const proxyKeys = new Set(['retryFor', 'priority', 'maxBodyBytes']);

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
      const problem = gatewayProblem(gateway);
      if (problem) return `gateways.${name}: ${problem}`;
    }
  }
  for (const key of ['heartbeatsDir', 'store', 'storePrefix'] as const) {
    if (config[key] !== undefined && typeof config[key] !== 'string') return `"${key}" must be a string`;
  }
  if (config.storeFallback !== undefined && config.storeFallback !== 'local' && config.storeFallback !== 'none') {
    return '"storeFallback" must be "local" or "none"';
  }
  if (config.proxy !== undefined) {
    if (!isObject(config.proxy)) return '"proxy" must be an object';
    for (const key of Object.keys(config.proxy)) {
      if (!proxyKeys.has(key)) return `unknown key "proxy.${key}" (known: ${[...proxyKeys].join(', ')})`;
    }
    const { retryFor, priority, maxBodyBytes } = config.proxy;
    if (retryFor !== undefined && !isDuration(retryFor)) return `proxy.retryFor: ${JSON.stringify(retryFor)} is not a duration (use 500ms, 2s, 10m, 1h or seconds)`;
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
    if (config.cache.staleFor !== undefined && !isDuration(config.cache.staleFor)) {
      return `cache.staleFor: "${String(config.cache.staleFor)}" is not a duration (use 500ms, 2s, 10m, 1h or seconds)`;
    }
    if (config.cache.ttl !== undefined) {
      if (!isObject(config.cache.ttl)) return '"cache.ttl" must be an object of category -> duration';
      for (const [category, ttl] of Object.entries(config.cache.ttl)) {
        if (!isDuration(ttl)) return `cache.ttl.${category}: "${String(ttl)}" is not a duration (use 500ms, 2s, 10m, 1h or seconds)`;
      }
    }
  }
  return undefined;
}

function isDuration(value: unknown): boolean {
  return (typeof value === 'string' || typeof value === 'number') && parseDuration(value) !== undefined;
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
  if (limit !== undefined && limit !== null && (!Number.isInteger(limit) || (limit as number) < 1)) {
    return `"limit" must be a whole number of requests >= 1, got ${JSON.stringify(limit)}`;
  }
  if (window !== undefined && (!isDuration(window) || parseDuration(window as string)! <= 0)) {
    return `"window" must be a positive duration (500ms, 2s, 10m, 1h or seconds), got ${JSON.stringify(window)}`;
  }
  if (burst !== undefined && (!Number.isInteger(burst) || (burst as number) < 1)) {
    return `"burst" must be a whole number >= 1, got ${JSON.stringify(burst)}`;
  }
  if (typeof limit === 'number' && typeof burst === 'number' && burst > limit) {
    return `"burst" (${burst}) cannot exceed "limit" (${limit})`;
  }
  if (reserveLow !== undefined && (typeof reserveLow !== 'number' || reserveLow < 0 || reserveLow >= 1)) {
    return `"reserveLow" must be a fraction from 0 to below 1, got ${JSON.stringify(reserveLow)}`;
  }
  if (margin !== undefined && !isDuration(margin)) {
    return `"margin" must be a duration, got ${JSON.stringify(margin)}`;
  }
  if (baseUrl !== undefined && (typeof baseUrl !== 'string' || !/^https?:\/\/\S+$/.test(baseUrl))) {
    return `"baseUrl" must be an http(s) URL, got ${JSON.stringify(baseUrl)}`;
  }
  if (apiKeyEnv !== undefined && (typeof apiKeyEnv !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(apiKeyEnv))) {
    return `"apiKeyEnv" must be an environment variable name, got ${JSON.stringify(apiKeyEnv)}`;
  }
  if (quotaBlock !== undefined && (!isDuration(quotaBlock) || parseDuration(quotaBlock as string)! <= 0)) {
    return `"quotaBlock" must be a positive duration, got ${JSON.stringify(quotaBlock)}`;
  }
  if (proxied !== undefined && typeof proxied !== 'boolean') return `"proxied" must be true or false, got ${JSON.stringify(proxied)}`;
  return undefined;
}

/** Reads and validates the user config; a missing file is an empty config. */
export function loadConfig(env: NodeJS.ProcessEnv): ClawConfig {
  const file = configFile(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let config: unknown;
  try {
    config = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid JSON (${(err as Error).message}); fix it or remove it`);
  }
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
