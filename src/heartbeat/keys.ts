// Store keys for one agent, shared by the runner and by status (which must not load the runner).
export const runLockName = (agent: string) => `run:${agent}`;
export const memoryKey = (agent: string) => `agent:${agent}`;
/** The dispatch an agent's heartbeat has running (its process group), so no second one starts beside it. */
export const dispatchKey = (agent: string) => `dispatch:${agent}`;
