/**
 * Import errors as people read them: Bun reports a syntax or resolve error as a BuildMessage
 * (or an AggregateError of them, "2 errors building ...") whose message alone has no place.
 * Each gets its `file:line:column`, the line, and a caret under the column, like a compiler.
 */

/** Where an error is; line and column count from 1 (as in Bun's BuildMessage/ResolveMessage `position`). */
export interface Position {
  file: string;
  line: number;
  column: number;
  lineText: string;
}

const positionOf = (err: unknown): Position | undefined => {
  const p = (err as { position?: Partial<Position> } | null)?.position;
  if (!p || typeof p.file !== "string" || typeof p.line !== "number" || typeof p.column !== "number") return undefined;
  return { file: p.file, line: p.line, column: p.column, lineText: typeof p.lineText === "string" ? p.lineText : "" };
};

const messageOf = (err: unknown): string =>
  err !== null && typeof err === "object" && "message" in err ? String((err as Error).message) : String(err);

/** `file:line:column: message`, then the line with a caret under the column (tabs kept so the caret lines up). */
export function located(message: string, p: Position): string {
  const head = `${p.file}:${p.line}:${p.column}: ${message}`;
  if (!p.lineText) return head;
  const gutter = `${p.line} | `;
  const caret = " ".repeat(gutter.length - 2) + "| " + p.lineText.slice(0, Math.max(0, p.column - 1)).replace(/[^\t]/g, " ") + "^";
  return `${head}\n  ${gutter}${p.lineText}\n  ${caret}`;
}

/**
 * The text of an error thrown while importing a module: located build errors (every one of
 * an AggregateError, in source order, after a line "N errors:"), else the plain message.
 */
export function importErrorText(err: unknown): string {
  const parts: unknown[] = err instanceof AggregateError ? err.errors : [err];
  const found = parts.map((e) => ({ e, p: positionOf(e) })).filter((x): x is { e: unknown; p: Position } => x.p !== undefined);
  if (!found.length) return messageOf(err);
  found.sort((a, b) => a.p.line - b.p.line || a.p.column - b.p.column);
  const count = found.length === 1 ? "" : `${found.length} errors:\n`;
  return count + found.map(({ e, p }) => located(messageOf(e), p)).join("\n");
}
