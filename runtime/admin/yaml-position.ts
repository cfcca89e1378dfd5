/**
 * Where a YAML document stops being valid. Bun.YAML.parse says only "Unexpected token" (Bun
 * 1.4: no line or column on the error), so we find the place by parsing prefixes: the line is
 * the one after the longest run of whole lines that parses, the column the first character
 * of that line after its longest prefix that parses. For a bracket or quote left open, that
 * points at where it opened. Configs are small, so the few hundred parses cost nothing.
 */

export interface TextPosition {
  line: number;
  column: number;
  lineText: string;
}

/** The position of the error in `text`, which `parse` rejects; undefined if it cannot be told (a huge document). */
export function yamlErrorPosition(text: string, parse: (text: string) => unknown): TextPosition | undefined {
  const lines = text.split("\n");
  if (lines.length > 5000) return undefined;
  const ok = (t: string): boolean => {
    try {
      parse(t);
      return true;
    } catch {
      return false;
    }
  };
  // Whole lines: the last prefix that parses; the error is on the next line.
  let good = 0;
  for (let n = lines.length - 1; n > 0; n--) {
    if (ok(lines.slice(0, n).join("\n"))) {
      good = n;
      break;
    }
  }
  const lineText = lines[good] ?? "";
  const before = good ? lines.slice(0, good).join("\n") + "\n" : "";
  let column = 1;
  for (let c = lineText.length; c > 0; c--) {
    if (ok(before + lineText.slice(0, c))) {
      column = c + 1;
      break;
    }
  }
  // Past the end of the line (the line is fine alone; what follows is not): point at its last character.
  if (column > lineText.length) column = Math.max(1, lineText.length);
  return { line: good + 1, column, lineText };
}
