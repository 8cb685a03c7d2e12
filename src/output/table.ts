// The one table renderer: a header, columns two spaces apart, a tone per cell when colour is on.
import { plain, type Paint, type Tone } from './colour.js';

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** On a terminal narrower than the table, this column gives up width first (its cells end in "…"). */
  shrink?: boolean;
}

export type Cell = string | { text: string; tone?: Tone | undefined };

export interface TableOptions {
  paint?: Paint;
  /** The terminal's width: only then are shrinkable columns cut to fit. */
  width?: number | undefined;
}

const gap = '  ';
const textOf = (cell: Cell) => (typeof cell === 'string' ? cell : cell.text);

function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * Widths per column. On a terminal the shrinkable columns give up what the line is too wide by,
 * but only when that makes it fit: a cut that still leaves the line wrapping loses text for nothing.
 */
function columnWidths(columns: Column[], rows: Cell[][], width: number | undefined): number[] {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => textOf(r[i] ?? '').length)));
  if (!width) return widths;
  let over = widths.reduce((sum, w) => sum + w, 0) + gap.length * (columns.length - 1) - width;
  const cut = [...widths];
  for (let i = columns.length - 1; i >= 0 && over > 0; i--) {
    if (!columns[i]!.shrink) continue;
    const least = Math.min(cut[i]!, Math.max(columns[i]!.header.length, 8));
    const give = Math.min(over, cut[i]! - least);
    cut[i]! -= give;
    over -= give;
  }
  return over > 0 ? widths : cut;
}

/** The table as lines (no trailing blanks); cells are padded by their visible width, not their colour codes. */
export function renderTable(columns: Column[], rows: Cell[][], options: TableOptions = {}): string[] {
  const paint = options.paint ?? plain;
  const widths = columnWidths(columns, rows, options.width);
  const line = (cells: Cell[], header: boolean) => {
    const parts = columns.map((column, i) => {
      const cell = cells[i] ?? '';
      const text = cut(textOf(cell), widths[i]!);
      const pad = ' '.repeat(widths[i]! - text.length);
      const shown = header || typeof cell === 'string' ? text : paint(cell.tone, text);
      if (column.align === 'right') return pad + shown;
      return i === columns.length - 1 ? shown : shown + pad;
    });
    return parts.join(gap).trimEnd();
  };
  return [
    line(
      columns.map((c) => c.header),
      true,
    ),
    ...rows.map((r) => line(r, false)),
  ];
}

/** Where a column starts, for lines written under a row (doctor's `fix:`). */
export function columnStart(columns: Column[], rows: Cell[][], index: number): number {
  const widths = columnWidths(columns, rows, undefined);
  return widths.slice(0, index).reduce((sum, w) => sum + w + gap.length, 0);
}
