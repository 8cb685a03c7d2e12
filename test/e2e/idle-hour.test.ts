// The README's figure: the shipped 15-agent fleet left idle for an hour, measured with the fakes.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module shared with `npm run bench`
import { simulateIdleHour } from '../../bench/idle-hour.mjs';

describe('an idle hour of the example fleet', () => {
  it('makes 70 heartbeats and 12 polls, no model call, and one source call per source per poll', async () => {
    const r = await simulateIdleHour();
    expect(r.heartbeats).toBe(70);
    expect(r.modelCalls).toBe(0);
    expect(r.sourceCalls).toEqual({ multicaIssueList: 12, multicaAgentList: 1, workboardList: 12 });
  });
});
