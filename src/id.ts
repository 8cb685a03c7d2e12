// Ids for admissions and waiters, unique across processes and hosts. Deliberately not node:crypto:
// loading it costs a cron start several milliseconds.
import { hostname } from 'node:os';
import { ownPid } from './host.js';

let sequence = 0;
const host = hostname();

export function uniqueId(): string {
  sequence += 1;
  return `${host}:${ownPid}:${Date.now().toString(36)}:${sequence.toString(36)}:${Math.random().toString(36).slice(2, 10)}`;
}
