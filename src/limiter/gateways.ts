import { ConfigError } from '../errors.js';
import { parseDuration } from '../duration.js';
import { defaultMaxRetryAfterMs, maxBlockMs } from './backoff.js';
import { gatewayConfigs, type ClawConfig, type GatewayConfig } from '../config/config.js';
import type { Gateway } from './types.js';
import { globMatcher } from '../glob.js';

export type { Gateway } from './types.js';

const defaultReserveLow = 0.2;
const defaultMarginMs = 250;

/** The provider part of a model ref: the text before the first `/`, lower-cased. */
export function providerOf(model: string): string {
  return model.split('/', 1)[0]!.trim().toLowerCase();
}

/** The model id sent upstream: the ref without its provider. */
export function modelIdOf(model: string): string {
  const slash = model.indexOf('/');
  return slash < 0 ? model : model.slice(slash + 1);
}

function globMatches(pattern: string, value: string): boolean {
  return globMatcher(pattern.toLowerCase()).test(value);
}

/** Finds the gateway for a name or provider id: exact names, then exact patterns, then globs. */
export function findGateway(configs: Record<string, GatewayConfig>, id: string): [string, GatewayConfig] | undefined {
  const wanted = id.trim().toLowerCase();
  const entries = Object.entries(configs);
  const byName = entries.find(([name]) => name.toLowerCase() === wanted);
  if (byName) return byName;
  const byExact = entries.find(([, g]) => (g.match ?? []).some((p) => !p.includes('*') && p.toLowerCase() === wanted));
  if (byExact) return byExact;
  // User gateways come after built-ins in `configs`; let their globs win.
  return [...entries].reverse().find(([, g]) => (g.match ?? []).some((p) => p.includes('*') && globMatches(p, wanted)));
}

export function toGateway(name: string, config: GatewayConfig | undefined): Gateway {
  const limit = config?.limit;
  const limited = typeof limit === 'number' && limit > 0;
  const gateway: Gateway = {
    name,
    limited,
    limit: limited ? limit : Infinity,
    windowMs: parseDuration(config?.window ?? '60s') ?? 60_000,
    reserveLow: config?.reserveLow ?? defaultReserveLow,
    marginMs: config?.margin !== undefined ? (parseDuration(config.margin) ?? defaultMarginMs) : defaultMarginMs,
    maxRetryAfterMs: Math.min(
      maxBlockMs,
      config?.maxRetryAfter !== undefined ? (parseDuration(config.maxRetryAfter) ?? defaultMaxRetryAfterMs) : defaultMaxRetryAfterMs,
    ),
  };
  if (config?.burst) gateway.burst = config.burst;
  if (config?.baseUrl) gateway.baseUrl = config.baseUrl;
  if (config?.apiKeyEnv) gateway.apiKeyEnv = config.apiKeyEnv;
  return gateway;
}

/**
 * The gateway a call goes through: `--gateway`, else the provider of `--model`.
 * An unknown gateway is not limited (the seed's rule) and keeps the name it was given.
 */
export function resolveGateway(config: ClawConfig, choice: { gateway?: string; model?: string }): Gateway {
  const id = choice.gateway ?? (choice.model ? providerOf(choice.model) : undefined);
  if (!id) throw new ConfigError('no gateway: pass --gateway <name> or --model <provider/model>');
  const found = findGateway(gatewayConfigs(config), id);
  return found ? toGateway(found[0], found[1]) : toGateway(id.trim().toLowerCase(), undefined);
}

export function allGateways(config: ClawConfig): Gateway[] {
  return Object.entries(gatewayConfigs(config)).map(([name, g]) => toGateway(name, g));
}
