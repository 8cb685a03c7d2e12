// claw's version is package.json's: the bundle has it put in by build.mjs (esbuild `define`), so a
// start reads no file for it; run from source (tests), package.json is read the first time it is asked.
import { readFileSync } from 'node:fs';

declare const CLAW_BUILD_VERSION: string | undefined;

export function clawVersion(): string {
  if (typeof CLAW_BUILD_VERSION === 'string') return CLAW_BUILD_VERSION;
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
