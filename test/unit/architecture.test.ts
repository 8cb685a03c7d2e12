// The shape the code keeps: every child process claw starts goes through the one ProcessRunner on
// execa (src/process/execa-runner.ts); nothing else in src spawns or imports execa.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/claw';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : /\.[cm]?[jt]s$/.test(entry.name) ? [full] : [];
  });
}

const src = join(repoRoot, 'src');
const runnerModule = 'process/execa-runner.ts';
// Any way of reaching node:child_process (import, require, import(), createRequire(...)('...')),
// and the spawning functions by name, whatever they were imported as.
const childProcess = /['"](node:)?child_process['"]|\b(spawn|spawnSync|execFile|execFileSync|execSync|fork)\s*\(/;
const execaImport = /['"]execa['"]/;

describe('architecture', () => {
  it("claw's bundles are ASCII, so V8 keeps their source as a one-byte string (half the bytes to read on every start)", () => {
    const dist = join(repoRoot, 'dist');
    const bundles = readdirSync(dist).filter((name) => name === 'cli.cjs' || /^claw-[a-z-]+\.cjs$/.test(name));
    expect(bundles).toContain('claw-heartbeat.cjs');
    for (const name of bundles) {
      const bundle = readFileSync(join(dist, name));
      const wide = bundle.findIndex((byte) => byte > 0x7f);
      expect(wide < 0 ? '' : bundle.subarray(Math.max(0, wide - 60), wide + 20).toString(), name).toBe('');
    }
  });

  it("every command but help has a bundle of its own, smaller than the whole program; the heartbeat's (what cron runs) at most 3/4 of it", () => {
    const dist = join(repoRoot, 'dist');
    const size = (name: string) => statSync(join(dist, name)).size;
    const names = readdirSync(join(src, 'commands'))
      .filter((name) => name.endsWith('.ts'))
      .map((name) => name.slice(0, -3))
      .filter((name) => name !== 'help');
    expect(names).toContain('heartbeat');
    for (const name of names) expect(size(`claw-${name}.cjs`), name).toBeLessThan(size('cli.cjs'));
    expect(size('claw-heartbeat.cjs')).toBeLessThanOrEqual(size('cli.cjs') * 0.75);
  });

  it('src starts no child process except through the execa runner', () => {
    const files = sourceFiles(src).map((file) => [relative(src, file), readFileSync(file, 'utf8')] as const);
    expect(files.length).toBeGreaterThan(20);
    const spawning = files.filter(([, text]) => childProcess.test(text)).map(([name]) => name);
    expect(spawning).toEqual([]);
    const usingExeca = files.filter(([, text]) => execaImport.test(text)).map(([name]) => name);
    expect(usingExeca).toEqual([runnerModule]);
  });

  it('package.json depends on execa (an ES module, bundled apart as dist/execa.cjs)', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(['commander', 'execa', 'conf', 'chalk', 'cron-parser']));
    expect(Object.keys(pkg.devDependencies)).toContain('vitest');
    expect(readFileSync(join(repoRoot, 'build.mjs'), 'utf8')).toMatch(/\/\^execa\$\/.*'\.\/execa\.cjs'/);
  });
});
