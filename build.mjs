// Bundles src/ into one CommonJS file, dist/cli.cjs. Cron starts claw thousands of times a day:
// one file (better-sqlite3's JS included, its addon named directly) avoids the ESM loader and
// package look-ups on every start. `conf` stays an ES module, imported only by `claw config`.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/cli.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  external: ['conf'],
  define: { 'import.meta.url': '__clawModuleUrl' },
  banner: { js: "const __clawModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
