/** A plain text table: columns padded to their widest cell (colour codes do not count). */

const visible = (s: string): number => s.replace(/\x1b\[[0-9;]*m/g, "").length;

export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat(widths[i]! - visible(cell)))).join("  ").trimEnd())
    .join("\n");
}
