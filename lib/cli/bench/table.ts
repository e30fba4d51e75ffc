// The benchmarks' plain-text tables: the first two columns (names) left-aligned, the rest right-aligned.
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((s, j) => (j < 2 ? s.padEnd(widths[j]) : s.padStart(widths[j]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
