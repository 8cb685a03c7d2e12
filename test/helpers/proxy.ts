// Starts `claw proxy --port 0` as a real OS process and reads its URL from the first stdout line.
import { spawn, type ChildProcess } from 'node:child_process';
import { clawBin } from './claw';

export interface ProxyProcess {
  url: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

const running = new Set<ProxyProcess>();

export async function startProxyProcess(env: NodeJS.ProcessEnv, args: string[] = []): Promise<ProxyProcess> {
  const child = spawn(process.execPath, [clawBin, 'proxy', '--port', '0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`claw proxy did not start: ${err}`)), 20_000);
    const look = () => {
      const m = /^claw proxy listening on (http:\/\/\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', look);
    void exited.then((code) => reject(new Error(`claw proxy exited ${code}: ${err}`)));
  });
  const proxy: ProxyProcess = {
    url,
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      running.delete(proxy);
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  running.add(proxy);
  return proxy;
}

/** Stops every proxy a test left running. */
export async function stopAllProxies(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGKILL')));
}
