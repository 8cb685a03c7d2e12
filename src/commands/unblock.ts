// `claw unblock <gateway>`: clear the block a 429 (or a quota) put on a gateway, for every process.
import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import { openCommandStore } from './shared/open-store.js';
import { UsageError } from '../errors.js';
import { stateDirOption } from './shared/options.js';
import { writeJson } from '../output/json.js';

export function registerUnblock(program: Command, ctx: Context): void {
  program
    .command('unblock')
    .summary("clear a gateway's 429 or quota block for every process")
    .description(
      "An upstream 429 blocks its gateway for every claw process until its Retry-After, cut to the gateway's " +
        'maxRetryAfter (default 10m); no block lasts more than 24h. `claw status` shows who set a block and why. ' +
        'Clearing it lets waiting processes go on at once. A gateway that is not blocked is fine (exit 0); ' +
        'a name neither configured nor seen by the store is exit 64.',
    )
    .argument('<gateway>', 'a gateway name or one of its provider ids, e.g. nvidia')
    .option('--json', 'print JSON')
    .addOption(stateDirOption())
    .addHelpText('after', "\nExamples:\n  claw unblock nvidia\n  claw unblock nvidia --json\n  claw status --json | jq '.gateways[] | select(.block) | .name'")
    .action(async (name: string, raw: { json?: boolean; stateDir?: string }) => {
      const [{ loadConfig, gatewayConfigs }, { findGateway, toGateway }, { gatewayReport }] = await Promise.all([
        import('../config/config.js'),
        import('../limiter/gateways.js'),
        import('../limiter/report.js'),
      ]);
      const config = loadConfig(ctx.io.env);
      const found = findGateway(gatewayConfigs(config), name);
      const store = await openCommandStore(ctx, config, raw.stateDir);
      try {
        const wanted = name.trim().toLowerCase();
        let gateway = found ? toGateway(found[0], found[1]) : undefined;
        if (!gateway) {
          const known = await store.knownGateways();
          const seen = known.find((k) => k.toLowerCase() === wanted);
          if (!seen) {
            const names = [...new Set([...Object.keys(gatewayConfigs(config)), ...known])].sort();
            throw new UsageError(`unknown gateway "${name}": not configured and never seen by the store (known: ${names.join(', ')})`);
          }
          gateway = toGateway(seen, undefined);
        }
        const before = await gatewayReport(store, gateway, ctx.io.now());
        const cleared = await store.clearBlock(gateway.name);
        const block = cleared ? before.block : null;
        if (raw.json) {
          writeJson(ctx.io.stdout, { gateway: gateway.name, cleared, block });
        } else if (cleared && block) {
          ctx.io.stdout.write(`${gateway.name}: block cleared (it ran until ${block.until}; set by ${block.origin})\n`);
        } else {
          ctx.io.stdout.write(`${gateway.name}: not blocked; nothing to clear\n`);
        }
      } finally {
        await store.close();
      }
    });
}
