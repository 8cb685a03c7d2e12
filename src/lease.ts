// Leases with an owner of the form `<host>:<pid>`: a holder on this host whose process is gone
// (killed with -9, say) is taken over at once instead of after its lease runs out.
import { hostname } from 'node:os';
import type { LeaseStore } from './store/types.js';
import { ownPid, pidAlive } from './host.js';

export function leaseOwner(): string {
  return `${hostname()}:${ownPid}`;
}

export function holderIsDead(owner: string): boolean {
  const colon = owner.lastIndexOf(':');
  const pid = Number(owner.slice(colon + 1));
  return owner.slice(0, colon) === hostname() && Number.isInteger(pid) && pid !== ownPid && !pidAlive(pid);
}

/** Takes the lease, or reports who holds it. */
export async function takeLease(store: LeaseStore, name: string, owner: string, ttlMs: number): Promise<{ ok: true } | { ok: false; holder: string }> {
  if (await store.acquireLease(name, owner, ttlMs)) return { ok: true };
  const holder = await store.leaseHolder(name);
  if (!holder) return (await store.acquireLease(name, owner, ttlMs)) ? { ok: true } : { ok: false, holder: 'unknown' };
  if (holderIsDead(holder.owner)) {
    await store.releaseLease(name, holder.owner);
    if (await store.acquireLease(name, owner, ttlMs)) return { ok: true };
  }
  return { ok: false, holder: holder.owner };
}
