import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import { ConfigError, UsageError } from '../errors.js';
import { configFile } from '../config/paths.js';
import { redactStoreUrl } from '../redact.js';
import { writeJson } from '../output/json.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** `40` -> 40, `["a","b"]` -> array, `true` -> true; anything that is not JSON stays a string. */
export function parseConfigValue(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

function pathParts(path: string): string[] {
  const parts = path.split('.');
  if (parts.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
    throw new UsageError(`"${path}" is not a config path; use dot paths like gateways.nvidia.limit`);
  }
  return parts;
}

// Own properties only: `gateways.toString` is looked up in the config, never in Object.prototype
// (configProblem then refuses such a name with its reason).
function own(node: unknown, key: string): unknown {
  return node && typeof node === 'object' && Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
}

function getPath(object: unknown, parts: string[]): unknown {
  return parts.reduce<unknown>((node, key) => own(node, key), object);
}

function withPath(object: Record<string, unknown>, parts: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(object);
  let node: Record<string, unknown> = copy;
  for (const key of parts.slice(0, -1)) {
    const next = own(node, key);
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  if (value === undefined) delete node[parts.at(-1)!];
  else node[parts.at(-1)!] = value;
  return copy;
}

/** The config as shown: the store URL's password (and anything that may hide one) as ***. */
function shown<T extends Record<string, unknown>>(config: T): T {
  return typeof config.store === 'string' ? { ...config, store: redactStoreUrl(config.store) } : config;
}

/** What a person reads: a plain value as it is, a list or an object as indented JSON. */
function render(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return `${String(value)}\n`;
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function registerConfig(program: Command, ctx: Context): void {
  const config = program
    .command('config')
    .summary('read and change user configuration (gateways, cache, store)')
    .description(
      `User configuration lives in ${'$CLAW_CONFIG_DIR/config.json'} (default ~/.config/claw/config.json). ` +
        'Paths use dots. A gateway is { match, limit, window, burst, reserveLow, margin, baseUrl, apiKeyEnv }; ' +
        'durations accept 500ms, 2s, 10m, 1h or plain seconds. Invalid values are refused (exit 78).',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  claw config set gateways.nvidia.limit 40\n' +
        '  claw config set gateways.nvidia.window 60s\n' +
        '  claw config set gateways.mine.match \'["mine","mine-*"]\'\n' +
        '  claw config get gateways.nvidia\n' +
        '  claw config unset gateways.nvidia.burst\n' +
        '  claw config list --json',
    );

  const open = async () => (await import('../config/write.js')).userConfigStore(ctx.io.env);
  const effective = async () => {
    const { loadConfig, gatewayConfigs } = await import('../config/config.js');
    const current = loadConfig(ctx.io.env);
    return shown({ ...current, gateways: gatewayConfigs(current) });
  };
  const change = async (path: string, value: unknown) => {
    const parts = pathParts(path);
    const { configProblem, readConfigJson } = await import('../config/config.js');
    // Read (and refuse) a broken file here: conf would throw its parser's error at us.
    const current = readConfigJson(ctx.io.env) ?? {};
    if (typeof current !== 'object' || current === null || Array.isArray(current)) {
      const file = configFile(ctx.io.env);
      throw new ConfigError(`${file} must hold a JSON object; fix it by hand or move it aside (mv ${file} ${file}.broken)`);
    }
    const candidate = withPath(current as Record<string, unknown>, parts, value);
    const problem = configProblem(candidate);
    if (problem) throw new ConfigError(`refused: ${problem}`);
    // The whole document is written: conf's own dot paths would follow inherited properties.
    (await open()).store = candidate;
  };

  config
    .command('get')
    .description('print the value at a dot path (built-in gateway settings included)')
    .argument('<path>', 'e.g. gateways.nvidia.limit')
    .option('--json', 'print {"ok":true,"path":...,"value":...}')
    .action(async (path: string, raw: { json?: boolean }) => {
      const value = getPath(await effective(), pathParts(path));
      if (value === undefined) throw new UsageError(`${path} is not set`);
      if (raw.json) writeJson(ctx.io.stdout, { path, value });
      else ctx.io.stdout.write(render(value));
    });

  config
    .command('set')
    .description('set the value at a dot path (JSON values are parsed: numbers, lists, objects)')
    .argument('<path>', 'e.g. gateways.nvidia.limit')
    .argument('<value>', 'e.g. 40, 60s, \'["nvidia*"]\'')
    .allowUnknownOption()
    .action(async (path: string, value: string) => {
      await change(path, parseConfigValue(value));
    });

  config
    .command('unset')
    .description('remove the value at a dot path (built-ins apply again)')
    .argument('<path>', 'e.g. gateways.nvidia.burst')
    .action(async (path: string) => {
      await change(path, undefined);
    });

  config
    .command('list')
    .description('print the effective configuration, built-in gateways included')
    .option('--json', 'print {"ok":true,"config":{...}} on one line')
    .action(async (raw: { json?: boolean }) => {
      const current = await effective();
      if (raw.json) writeJson(ctx.io.stdout, { config: current });
      else ctx.io.stdout.write(render(current));
    });

  config
    .command('path')
    .description('print where the config file is')
    .action(() => {
      ctx.io.stdout.write(`${configFile(ctx.io.env)}\n`);
    });
}
