// `claw --version` is package.json's version, and nothing in src/ holds a copy of it to go stale.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runClaw, sandbox } from '../helpers/claw';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('claw --version', () => {
  it('prints the version package.json gives', async () => {
    const box = sandbox();
    for (const flag of ['--version', '-V']) {
      const result = await runClaw([flag], box.env);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`${version}\n`);
    }
  });

  it('is written down only in package.json', () => {
    const copies = sources(join(repoRoot, 'src')).filter(
      (file) => readFileSync(file, 'utf8').includes(`'${version}'`) || readFileSync(file, 'utf8').includes(`"${version}"`),
    );
    expect(copies).toEqual([]);
  });
});
