// The Node binaries a test runs claw on: this one, and those .ci/run installs (CLAW_TEST_NODE24,
// CLAW_TEST_NODE22, CLAW_TEST_NODE20), each once.
import { spawnSync } from 'node:child_process';

export interface NodeBinary {
  path: string;
  version: string;
  major: number;
}

export function nodeAt(path: string | undefined): NodeBinary | undefined {
  if (!path) return undefined;
  const out = spawnSync(path, ['-p', 'process.version'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${path} is not a Node binary: ${out.stderr}`);
  const version = out.stdout.trim();
  return { path, version, major: Number(version.slice(1).split('.')[0]) };
}

export const self = nodeAt(process.execPath)!;

/** The other Nodes named by `variables` (CLAW_TEST_NODE24 and the like), without this one. */
export function otherNodes(variables: string[]): NodeBinary[] {
  return variables.map((name) => nodeAt(process.env[name])).filter((n): n is NodeBinary => n !== undefined && n.version !== self.version);
}
