const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses `500ms`, `2s`, `10m`, `1h`, `30d` or plain seconds (`90`, `1.5`) into milliseconds: digits,
 * an optional fraction, an optional unit, any case, spaces around. Read by hand, not by a pattern:
 * a roster's every agent has four durations, and a pattern run that often is compiled twice
 * (bytecode, then machine code) on every start.
 */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? Math.round(text * 1000) : undefined;
  const s = text.toLowerCase().trim();
  let i = digitsFrom(s, 0);
  if (i === 0) return undefined;
  if (s[i] === '.') {
    const end = digitsFrom(s, i + 1);
    if (end === i + 1) return undefined;
    i = end;
  }
  const unit = s.slice(i).trimStart() || 's';
  const factor = Object.hasOwn(units, unit) ? units[unit] : undefined;
  return factor === undefined ? undefined : Math.round(Number(s.slice(0, i)) * factor);
}

/** The index after the ASCII digits of `s` that start at `from`. */
function digitsFrom(s: string, from: number): number {
  let i = from;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  return i;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)}m`;
  return `${+(ms / 3_600_000).toFixed(1)}h`;
}
