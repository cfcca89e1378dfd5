// A tiny table printer: each row's value, its ratio to a floor, and pass/fail against a target.

export interface Row {
  name: string;
  value: number;
  unit: string;
  /** The floor this row is compared with (same unit); prints value / ratioTo. */
  ratioTo?: number;
  /** Target for the ratio: at least this (or at most, when lowerIsBetter). */
  target?: number;
  /** Target for the value itself, e.g. 300_000 calls/s. */
  targetValue?: number;
  /** For latencies: pass means ratio <= target and value <= targetValue. */
  lowerIsBetter?: boolean;
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(2) + " M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + " k";
  if (a >= 100) return v.toFixed(0);
  return v.toFixed(a >= 10 ? 1 : 2);
}

function targetCell(row: Row, ratio: number | undefined): string {
  const parts: string[] = [];
  let ok = true;
  const cmp = row.lowerIsBetter ? "<=" : ">=";
  const meets = (got: number, want: number) => (row.lowerIsBetter ? got <= want : got >= want);
  if (row.target !== undefined) {
    parts.push(`${cmp} ${row.target}x`);
    ok &&= ratio !== undefined && meets(ratio, row.target);
  }
  if (row.targetValue !== undefined) {
    parts.push(`${cmp} ${formatNumber(row.targetValue)}`);
    ok &&= meets(row.value, row.targetValue);
  }
  return parts.length ? `${parts.join(", ")} ${ok ? "PASS" : "FAIL"}` : "";
}

/** Renders rows as an aligned text table. */
export function formatTable(rows: Row[]): string {
  const header = ["name", "value", "unit", "ratio", "target"];
  const cells = rows.map((r) => {
    const ratio = r.ratioTo ? r.value / r.ratioTo : undefined;
    return [r.name, formatNumber(r.value), r.unit, ratio === undefined ? "" : ratio.toFixed(2) + "x", targetCell(r, ratio)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c.map((s, i) => (i === 1 || i === 3 ? s.padStart(widths[i]) : s.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

export function printTable(rows: Row[]): void {
  console.log(formatTable(rows));
}

/** True when every row that has a target meets it. */
export function allPass(rows: Row[]): boolean {
  return rows.every((r) => !targetCell(r, r.ratioTo ? r.value / r.ratioTo : undefined).endsWith("FAIL"));
}
