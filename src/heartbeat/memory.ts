// An agent's memory in the store (rounds, stalls, escalations sent), read the same way by the
// heartbeat, `claw poll` and `claw status`.
import type { StateStore } from '../store/types.js';
import { emptyMemory, type AgentMemory } from './evaluate.js';
import { memoryKey } from './keys.js';

export async function readMemory(store: StateStore, agentId: string): Promise<AgentMemory> {
  return parseMemory(await store.stateGet(memoryKey(agentId)));
}

/** A stored memory (stateGet's answer for the agent's memory key), or an empty one. */
export function parseMemory(stored: string | undefined): AgentMemory {
  return stored ? (JSON.parse(stored) as AgentMemory) : emptyMemory();
}

/**
 * Stores the memory, unless it is `before` (the JSON of the memory the run started from): an idle
 * agent's run usually changes nothing, and then costs no write.
 */
export async function writeMemory(store: StateStore, agentId: string, memory: AgentMemory, before?: string): Promise<void> {
  const text = JSON.stringify(memory);
  if (text !== before) await store.stateSet(memoryKey(agentId), text);
}
