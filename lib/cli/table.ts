// Plain-text tables with aligned columns, for terminal output.

export interface Column {
  header: string;
  /** Numbers read best right-aligned; names left-aligned (the default). */
  align?: 'left' | 'right';
}

/** A title spanning `span` consecutive columns, shown above their headers. */
export interface ColumnGroup {
  title: string;
  span: number;
}

/** A row of cells, or 'rule' for a horizontal line (e.g. before a total). */
export type Row = readonly string[] | 'rule';

const GAP = '  ';

function pad(text: string, width: number, align: 'left' | 'right'): string {
  return align === 'right' ? text.padStart(width) : text.padEnd(width);
}

/** Render columns and rows as lines joined by '\n' (no trailing newline). */
export function renderTable(columns: readonly Column[], rows: readonly Row[], groups?: readonly ColumnGroup[]): string {
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...rows.map((r) => (r === 'rule' ? 0 : (r[i] ?? '').length))),
  );
  // Widen the last column of a group whose title is longer than its columns.
  if (groups) {
    let first = 0;
    for (const g of groups) {
      const span = widths.slice(first, first + g.span);
      const inner = span.reduce((a, b) => a + b, 0) + GAP.length * (g.span - 1);
      if (g.title.length > inner) widths[first + g.span - 1] += g.title.length - inner;
      first += g.span;
    }
  }
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => pad(cell, widths[i], columns[i].align ?? 'left'))
      .join(GAP)
      .trimEnd();
  const out: string[] = [];
  if (groups) {
    let first = 0;
    const titles: string[] = [];
    for (const g of groups) {
      const inner = widths.slice(first, first + g.span).reduce((a, b) => a + b, 0) + GAP.length * (g.span - 1);
      // Titles of multi-column groups are centred over their columns.
      const left = g.span > 1 ? Math.floor((inner - g.title.length) / 2) : 0;
      titles.push(pad(' '.repeat(left) + g.title, inner, 'left'));
      first += g.span;
    }
    out.push(titles.join(GAP).trimEnd());
  }
  out.push(line(columns.map((c) => c.header)));
  const rule = widths.map((w) => '-'.repeat(w)).join(GAP);
  out.push(rule);
  for (const r of rows) out.push(r === 'rule' ? rule : line(r));
  return out.join('\n');
}
