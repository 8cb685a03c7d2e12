import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import { openCommandStore } from './shared/open-store.js';
import { formatDuration } from '../duration.js';
import { stateDirOption } from './shared/options.js';
import { stdoutPaint } from '../output/colour.js';
import { writeJson } from '../output/json.js';
import { renderTable } from '../output/table.js';

export function registerCache(program: Command, ctx: Context): void {
  const cache = program
    .command('cache')
    .summary('show or clear the shared cache of task-source results')
    .description(
      'Cached results are shared by every claw process. TTL by category: workboard and multica 5m, ' +
        'config (agent lists) 1h, knowledge and user 1d, others 5m; set cache.ttl.<category> to change. ' +
        'A failed refresh serves the last good value, marked stale, for up to cache.staleFor (1h).',
    )
    .addHelpText('after', '\nExamples:\n  claw cache stats\n  claw cache stats --json\n  claw cache clear workboard\n  claw cache clear');

  const open = async (stateDir?: string) => {
    const [{ loadConfig }] = await Promise.all([import('../config/config.js'), import('../store/open.js')]);
    const config = loadConfig(ctx.io.env);
    return openCommandStore(ctx, config, stateDir);
  };

  cache
    .command('stats')
    .description('entries per category, fresh or stale, and the hit rate')
    .option('--json', 'print JSON')
    .addOption(stateDirOption())
    .action(async (raw: { json?: boolean; stateDir?: string }) => {
      const store = await open(raw.stateDir);
      try {
        const { cacheStats } = await import('../cache/stats.js');
        const stats = await cacheStats(store);
        if (raw.json) {
          writeJson(ctx.io.stdout, stats);
          return;
        }
        const table = renderTable(
          [
            { header: 'CATEGORY' },
            { header: 'ENTRIES', align: 'right' },
            { header: 'FRESH', align: 'right' },
            { header: 'STALE', align: 'right' },
            { header: 'OLDEST' },
          ],
          stats.categories.map((c) => [
            c.category,
            String(c.entries),
            String(c.fresh),
            { text: String(c.stale), tone: c.stale > 0 ? 'warn' : undefined },
            c.oldestAgeMs === null ? '-' : formatDuration(c.oldestAgeMs),
          ]),
          { paint: await stdoutPaint(ctx) },
        );
        ctx.io.stdout.write(`${table.join('\n')}\n`);
        ctx.io.stdout.write(
          `hits ${stats.hits}, misses ${stats.misses}, stale served ${stats.staleServed}, hit rate ${stats.hitRate === null ? '-' : `${Math.round(stats.hitRate * 100)}%`}\n`,
        );
      } finally {
        await store.close();
      }
    });

  cache
    .command('clear')
    .description('remove cached entries (all, or one category)')
    .argument('[category]', 'e.g. workboard, multica, config')
    .addOption(stateDirOption())
    .action(async (category: string | undefined, raw: { stateDir?: string }) => {
      const store = await open(raw.stateDir);
      try {
        const removed = await store.cacheClear(category);
        ctx.io.stdout.write(`removed ${removed} entr${removed === 1 ? 'y' : 'ies'}${category ? ` in ${category}` : ''}\n`);
      } finally {
        await store.close();
      }
    });
}
