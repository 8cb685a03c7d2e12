// Bundles src/ into one CommonJS file, dist/cli.cjs. Cron starts claw thousands of times a day:
// one file avoids the ESM loader and package look-ups on every start. `conf` stays an ES module,
// imported only by `claw config`. The build succeeds without the optional better-sqlite3.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { resolve } from 'node:path';
import { idleFleet } from './bench/idle-hour.mjs';

// commander requires node:child_process at load time, only for executable subcommands, which
// claw does not use. Loading it costs every cron start milliseconds: hand commander a lazy proxy.
const lazyChildProcessInCommander = {
  name: 'lazy-child-process-in-commander',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      args.importer.includes('/node_modules/commander/') ? { path: 'lazy-child-process', namespace: 'claw-lazy' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'claw-lazy' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

// better-sqlite3 (optional: only Node 20, which has no node:sqlite, uses it): when installed, its
// JS goes into the bundle (required only on Node 20, and compiled into the code cache there) with
// its addon named directly, so no `bindings` search of the disk on every start; when not (Node
// 22/24, or `npm ci --omit=optional`), the same two lines go to dist/better-sqlite3.cjs unbundled,
// so a later `npm install better-sqlite3@12` works without a rebuild.
const betterSqlite =
  "module.exports = { Database: require('better-sqlite3'), nativeBinding: require.resolve('better-sqlite3/build/Release/better_sqlite3.node') };\n";
let betterSqliteInstalled = true;
try {
  Module.createRequire(resolve('package.json')).resolve('better-sqlite3');
} catch {
  betterSqliteInstalled = false;
}
const betterSqliteEntry = {
  name: 'better-sqlite3-entry',
  setup(b) {
    b.onResolve({ filter: /^claw-better-sqlite3$/ }, () =>
      betterSqliteInstalled ? { path: 'better-sqlite3-entry', namespace: 'claw-bsq' } : { path: './better-sqlite3.cjs', external: true },
    );
    b.onLoad({ filter: /.*/, namespace: 'claw-bsq' }, () => ({ contents: betterSqlite, resolveDir: resolve('.'), loader: 'js' }));
  },
};

const apartBundles = {
  name: 'apart-bundles',
  setup(b) {
    b.onResolve({ filter: /^cron-parser$/ }, () => ({ path: './cron-parser.cjs', external: true }));
    b.onResolve({ filter: /^ioredis$/ }, () => ({ path: './ioredis.cjs', external: true }));
    b.onResolve({ filter: /^conf$/ }, () => ({ path: './conf.cjs', external: true }));
    b.onResolve({ filter: /^execa$/ }, () => ({ path: './execa.cjs', external: true }));
    b.onResolve({ filter: /^chalk$/ }, () => ({ path: './chalk.cjs', external: true }));
  },
};

const common = { bundle: true, format: 'cjs', platform: 'node', target: 'node20', minifyWhitespace: true, minifySyntax: true, logLevel: 'warning' };

const clawBundle = {
  ...common,
  // src/ hands import.meta.url only to createRequire(), which takes the bundle's path as well as a
  // file URL: building the URL (node:url's pathToFileURL) would cost every start ~0.3 ms.
  define: { 'import.meta.url': '__filename', CLAW_BUILD_VERSION: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version) },
  external: ['better-sqlite3/build/*'],
  plugins: [lazyChildProcessInCommander, apartBundles, betterSqliteEntry],
};

rmSync('dist', { recursive: true, force: true });
await build({ ...clawBundle, entryPoints: ['src/main.ts'], outfile: 'dist/cli.cjs' });

// And a bundle for each command alone, dist/claw-<command>.cjs, which bin/claw loads when argv
// names it: a start reads, and V8 loads from the code cache, only that command's code (an idle
// heartbeat's bundle is two thirds of the whole). `help` shows every command: it keeps dist/cli.cjs.
// The command's module is src/commands/<name>.ts and its register function register<Name>.
const require = Module.createRequire(import.meta.url);
for (const [name] of require(resolve('dist/cli.cjs')).registrations) {
  if (name === 'help') continue;
  const register = `register${name[0].toUpperCase()}${name.slice(1)}`;
  const contents = `import { runCli } from './src/cli.ts';
import { ${register} } from './src/commands/${name}.ts';
export function main(argv, io) { return runCli([['${name}', ${register}]], argv, io); }
`;
  await build({ ...clawBundle, stdin: { contents, resolveDir: resolve('.'), loader: 'ts', sourcefile: `claw-${name}.ts` }, outfile: `dist/claw-${name}.cjs` });
}

// cron-parser (with luxon), ioredis and conf (an ES module, made CommonJS here) are large and needed
// only with a roster, a Redis store or `claw config`: each gets its own bundle, required the first
// time it is needed, so other commands never parse it.
for (const name of ['cron-parser', 'ioredis', 'conf', 'execa', 'chalk']) {
  await build({ ...common, stdin: { contents: `module.exports = require('${name}');`, resolveDir: '.', loader: 'js' }, outfile: `dist/${name}.cjs` });
}

if (!betterSqliteInstalled) writeFileSync('dist/better-sqlite3.cjs', betterSqlite);

// The V8 code caches of the commands cron runs, made here for the Node that builds by running them
// on the example fleet left idle, against the test fakes: `poll`, then an idle `heartbeat` with a
// warm cache, then `status --json`. bin/claw writes a bundle's cache on its first run (temp file and
// rename), so a cache holds exactly the functions that run compiled. Best effort: a run that fails
// (Node 20 without better-sqlite3, say) leaves no cache, and bin/claw makes one on the first run
// that can write dist/.
const fleet = idleFleet();
try {
  for (const args of [['poll'], ['heartbeat', 'coo', '--no-splay'], ['status', '--json']]) {
    spawnSync(process.execPath, [resolve('bin/claw'), ...args], { env: fleet.env, cwd: fleet.work, stdio: 'ignore' });
  }
} finally {
  fleet.cleanup();
}
