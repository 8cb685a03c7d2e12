// Whether a process still runs, as the OS sees it. A killed orphan whose reaper does not reap it (pid 1
// in a container often does not) stays a zombie, which `kill(pid, 0)` still finds: it does not run.
import { readFileSync } from 'node:fs';

export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
