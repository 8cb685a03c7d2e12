// The Prometheus text writer behind the proxy's /metrics and `claw status --prometheus`: what a
// scraper or node-exporter's textfile collector reads back must be what claw meant, whatever the names.
import { describe, expect, it } from 'vitest';
import { renderPrometheus, type MetricFamily } from '../../src/output/prometheus';
import { formatMetrics, ProxyStats } from '../../src/proxy/metrics';
import { formatPrometheus } from '../../src/status/prometheus';
import type { StatusDocument } from '../../src/status/document';

const hostile = 'a"b\\c\nd\\n{x="y"},e=\'f\'';

/** Reads a sample line the way the text format defines it (label values: \\ \" \n escapes only). */
function parseSample(line: string): { name: string; labels: [string, string][]; value: string } {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
  if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
  const labels: [string, string][] = [];
  const body = m[3] ?? '';
  let i = 0;
  while (i < body.length) {
    const name = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(body.slice(i));
    if (!name) throw new Error(`bad label at ${i} in ${JSON.stringify(line)}`);
    i += name[0].length;
    let value = '';
    for (;;) {
      const c = body[i];
      if (c === undefined) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
      i += 1;
      if (c === '"') break;
      if (c === '\\') {
        const next = body[i];
        i += 1;
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`bad escape \\${next} in ${JSON.stringify(line)}`);
      } else {
        value += c;
      }
    }
    labels.push([name[1]!, value]);
    if (body[i] === ',') i += 1;
    else if (i < body.length) throw new Error(`expected , at ${i} in ${JSON.stringify(line)}`);
  }
  return { name: m[1]!, labels, value: m[4]! };
}

/** Every line is a HELP, a TYPE or a sample; each name has one HELP and one TYPE, before its samples, all together. */
function checkExposition(text: string): void {
  expect(text.endsWith('\n')).toBe(true);
  const lines = text.slice(0, -1).split('\n');
  const done = new Set<string>();
  let current: string | undefined;
  for (const line of lines) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    const name = meta ? meta[2]! : parseSample(line).name;
    if (name !== current) {
      expect(done.has(name), `${name} comes back after another metric`).toBe(false);
      if (current) done.add(current);
      current = name;
      expect(meta?.[1], `${name} starts without HELP`).toBe('HELP');
    } else if (meta) {
      expect(meta[1], `${name} has a second HELP`).toBe('TYPE');
    }
  }
}

describe('renderPrometheus', () => {
  it('escapes backslash, double quote and line feed in label values, and a scraper reads the value back', () => {
    const text = renderPrometheus([{ name: 'm', type: 'gauge', help: 'h', samples: [[{ agent: hostile }, 1]] }]);
    expect(text).toBe(`# HELP m h\n# TYPE m gauge\nm{agent="a\\"b\\\\c\\nd\\\\n{x=\\"y\\"},e='f'"} 1\n`);
    expect(text.split('\n')).toHaveLength(4);
    expect(parseSample(text.split('\n')[2]!).labels).toEqual([['agent', hostile]]);
  });

  it('escapes backslash and line feed in HELP text, and leaves a double quote there as it is', () => {
    const text = renderPrometheus([{ name: 'm', type: 'counter', help: 'a "quoted" C:\\path\nsecond line', samples: [] }]);
    expect(text).toBe('# HELP m a "quoted" C:\\\\path\\nsecond line\n# TYPE m counter\n');
  });

  it('writes HELP and TYPE for a family with no samples, and the next family after it', () => {
    const text = renderPrometheus([
      { name: 'empty_total', type: 'counter', help: 'nothing yet', samples: [] },
      { name: 'next', type: 'gauge', help: 'one', samples: [[{}, 3]] },
    ]);
    expect(text).toBe('# HELP empty_total nothing yet\n# TYPE empty_total counter\n# HELP next one\n# TYPE next gauge\nnext 3\n');
  });

  it('keeps the label order it is given (not sorted) and the sample order', () => {
    const text = renderPrometheus([
      {
        name: 'm',
        type: 'gauge',
        help: 'h',
        samples: [
          [{ zone: 'z', agent: 'a', kind: 'k' }, 1],
          [{ kind: 'k2', zone: 'z2' }, 2],
        ],
      },
    ]);
    expect(text.split('\n').slice(2, 4)).toEqual(['m{zone="z",agent="a",kind="k"} 1', 'm{kind="k2",zone="z2"} 2']);
  });

  it('writes HELP and TYPE once per name: a name given twice is one group, where it first came', () => {
    const families: MetricFamily[] = [
      { name: 'a', type: 'gauge', help: 'first', samples: [[{ g: '1' }, 1]] },
      { name: 'b', type: 'gauge', help: 'other', samples: [[{}, 5]] },
      { name: 'a', type: 'gauge', help: 'again', samples: [[{ g: '2' }, 2]] },
    ];
    const text = renderPrometheus(families);
    expect(text).toBe('# HELP a first\n# TYPE a gauge\na{g="1"} 1\na{g="2"} 2\n# HELP b other\n# TYPE b gauge\nb 5\n');
    checkExposition(text);
    // The caller's families are not changed by the grouping.
    expect(families[0]!.samples).toHaveLength(1);
  });

  it('refuses what would be unreadable: one name as two types, a bad metric or label name', () => {
    expect(() =>
      renderPrometheus([
        { name: 'a', type: 'gauge', help: '', samples: [] },
        { name: 'a', type: 'counter', help: '', samples: [] },
      ]),
    ).toThrow(/both a gauge and a counter/);
    expect(() => renderPrometheus([{ name: 'bad-name', type: 'gauge', help: '', samples: [] }])).toThrow(/metric name/);
    expect(() => renderPrometheus([{ name: 'm', type: 'gauge', help: '', samples: [[{ 'bad label': 'x' }, 1]] }])).toThrow(/label name/);
    expect(() => renderPrometheus([{ name: 'm', type: 'gauge', help: '', samples: [[{ __name__: 'x' }, 1]] }])).toThrow(/label name/);
  });

  it('writes nothing for no families', () => {
    expect(renderPrometheus([])).toBe('');
  });
});

describe('the two expositions claw writes', () => {
  it("the proxy's /metrics stays readable, one line a sample, with hostile names in the store and reasons", () => {
    const stats = new ProxyStats();
    stats.answered('nv', 200);
    stats.retries.set(hostile, 2);
    stats.inFlight = 1;
    const text = formatMetrics(
      stats,
      [
        {
          name: hostile,
          tokens: { prompt: 10, completion: 4, byAgent: { [hostile]: { prompt: 6, completion: 1 } } },
          used: 3,
          limit: 40,
          block: { reason: 'quota "spent"\nnow', until: 5_000 } as never,
        },
      ],
      1_000,
    );
    checkExposition(text);
    const samples = text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map(parseSample);
    expect(samples).toHaveLength(10);
    expect(samples).toContainEqual({ name: 'claw_proxy_retries_total', labels: [['gateway', hostile]], value: '2' });
    expect(samples).toContainEqual({
      name: 'claw_proxy_tokens_total',
      labels: [
        ['gateway', hostile],
        ['agent', hostile],
        ['kind', 'prompt'],
      ],
      value: '6',
    });
    expect(samples).toContainEqual({
      name: 'claw_gateway_blocked_seconds',
      labels: [
        ['gateway', hostile],
        ['reason', 'quota "spent"\nnow'],
      ],
      value: '4',
    });
  });

  it('status --prometheus stays readable with hostile agent, gateway and cache category names', () => {
    const doc = {
      gateways: [
        {
          name: hostile,
          limited: true,
          limit: 40,
          windowMs: 60_000,
          used: 1,
          waiters: { high: 2 },
          counters: { admitted: 4, rateLimited: 1, retries: 0, dropped: 0, fallbacks: 0 },
        },
      ],
      agents: [{ agent: hostile, health: 'ok', gateway: hostile, stagnationSeconds: 0, pending: 2, paused: 0, unsent: [] }],
      cache: { hits: 1, misses: 0, categories: [{ category: hostile, fresh: 1, stale: 0 }] },
    } as unknown as StatusDocument;
    const text = formatPrometheus(doc);
    checkExposition(text);
    const samples = text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map(parseSample);
    expect(samples).toContainEqual({ name: 'agent_429_error_rate', labels: [['agent_name', hostile]], value: '0.25' });
    expect(samples).toContainEqual({
      name: 'claw_gateway_waiters',
      labels: [
        ['gateway', hostile],
        ['priority', 'high'],
      ],
      value: '2',
    });
    expect(samples).toContainEqual({
      name: 'claw_cache_entries',
      labels: [
        ['category', hostile],
        ['state', 'fresh'],
      ],
      value: '1',
    });
  });
});
