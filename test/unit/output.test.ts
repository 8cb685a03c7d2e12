// The output layer: when colour is on, how tables line up (with and without colour), what --json prints.
import { describe, expect, it } from 'vitest';
import { colourWanted, paintFor, plain, type Paint } from '../../src/output/colour';
import { writeJson } from '../../src/output/json';
import { renderTable } from '../../src/output/table';
import { terminalWidth } from '../../src/output/width';

const tty = { isTTY: true };
const pipe = { isTTY: false };
const ansi = /\u001b\[/;

describe('colourWanted', () => {
  it('is on for a terminal and off for a pipe when nothing else is said', () => {
    expect(colourWanted(tty, {})).toBe(true);
    expect(colourWanted(pipe, {})).toBe(false);
  });

  it('is off under --json and with --no-color, even when FORCE_COLOR asks for it', () => {
    expect(colourWanted(tty, {}, { json: true })).toBe(false);
    expect(colourWanted(tty, {}, { noColor: true })).toBe(false);
    expect(colourWanted(tty, { FORCE_COLOR: '1' }, { json: true })).toBe(false);
    expect(colourWanted(pipe, { FORCE_COLOR: '1' }, { noColor: true })).toBe(false);
  });

  it('NO_COLOR with any non-empty value turns it off (no-color.org); an empty NO_COLOR does not', () => {
    for (const value of ['1', '0', 'true', 'anything']) expect(colourWanted(tty, { NO_COLOR: value })).toBe(false);
    expect(colourWanted(tty, { NO_COLOR: '' })).toBe(true);
  });

  it('FORCE_COLOR forces it on through a pipe, and 0 or false forces it off on a terminal', () => {
    for (const value of ['1', '2', '3', 'true']) expect(colourWanted(pipe, { FORCE_COLOR: value })).toBe(true);
    expect(colourWanted(pipe, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(true);
    expect(colourWanted(tty, { FORCE_COLOR: '0' })).toBe(false);
    expect(colourWanted(tty, { FORCE_COLOR: 'false' })).toBe(false);
  });

  it('a dumb terminal gets none', () => {
    expect(colourWanted(tty, { TERM: 'dumb' })).toBe(false);
  });
});

describe('paintFor', () => {
  it('paints only when colour is on', async () => {
    const off = await paintFor(pipe, {});
    expect(off.on).toBe(false);
    expect(off('bad', 'failing')).toBe('failing');
    const on = await paintFor(tty, {});
    expect(on.on).toBe(true);
    expect(on('bad', 'failing')).toBe('\u001b[31mfailing\u001b[39m');
    expect(on('warn', 'degraded')).toBe('\u001b[33mdegraded\u001b[39m');
    expect(on('good', 'ok')).toBe('\u001b[32mok\u001b[39m');
    expect(on('dim', 'detail')).toMatch(/^\u001b\[2mdetail/);
    expect(on(undefined, 'plain')).toBe('plain');
  });
});

describe('renderTable', () => {
  const columns = [{ header: 'AGENT' }, { header: 'HEALTH' }, { header: 'PENDING', align: 'right' as const }, { header: 'SOURCES', shrink: true }];
  const rows = [
    ['coo', { text: 'failing', tone: 'bad' as const }, '12', 'workboard stale 12m, multica unavailable'],
    ['secretary', { text: 'ok', tone: 'good' as const }, '3', 'ok'],
  ];
  const strip = (line: string) => line.replace(/\u001b\[\d+m/g, '');

  it('pads every column to its widest cell, two spaces apart, numbers on the right, no trailing blanks', () => {
    expect(renderTable(columns, rows)).toEqual([
      'AGENT      HEALTH   PENDING  SOURCES',
      'coo        failing       12  workboard stale 12m, multica unavailable',
      'secretary  ok             3  ok',
    ]);
  });

  it('lines up by the visible text when cells are coloured', async () => {
    const paint = await paintFor(tty, {});
    const coloured = renderTable(columns, rows, { paint });
    expect(coloured[1]).toMatch(ansi);
    expect(coloured.map(strip)).toEqual(renderTable(columns, rows));
  });

  it('on a narrow terminal only the shrinkable column gives way, ending in …; without a width nothing is cut', () => {
    const narrow = renderTable(columns, rows, { width: 50 });
    expect(Math.max(...narrow.map((l) => l.length))).toBeLessThanOrEqual(50);
    expect(narrow[1]).toBe('coo        failing       12  workboard stale 12m,…');
    expect(renderTable(columns, rows, { width: 500 })).toEqual(renderTable(columns, rows));
  });

  it('cuts nothing when cutting cannot make the table fit', () => {
    expect(renderTable(columns, rows, { width: 20 })).toEqual(renderTable(columns, rows));
  });

  it('a paint that is off adds nothing', () => {
    const none: Paint = plain;
    expect(renderTable(columns, rows, { paint: none }).join('\n')).not.toMatch(ansi);
  });
});

describe('writeJson', () => {
  const capture = () => {
    const out: string[] = [];
    return { out, stream: { write: (text: string | Uint8Array) => out.push(String(text)) } };
  };

  it('writes one line, ok first and true unless the document says otherwise', () => {
    const { out, stream } = capture();
    writeJson(stream, { agent: 'coo', nested: { a: [1, 2] } });
    writeJson(stream, { ok: false, error: { type: 'usage_error' } });
    expect(out).toEqual(['{"ok":true,"agent":"coo","nested":{"a":[1,2]}}\n', '{"ok":false,"error":{"type":"usage_error"}}\n']);
  });
});

describe('terminalWidth', () => {
  it('COLUMNS first, then the terminal, none for a pipe', () => {
    expect(terminalWidth({ isTTY: true, columns: 100 }, { COLUMNS: '60' })).toBe(60);
    expect(terminalWidth({ isTTY: true, columns: 100 }, {})).toBe(100);
    expect(terminalWidth({ isTTY: false }, {})).toBeUndefined();
    expect(terminalWidth({ isTTY: false }, { COLUMNS: 'wide' })).toBeUndefined();
  });
});
