/**
 * YAML on Deno, which has none built in: the `yaml` package (it runs on Bun too, where Bun's own
 * is used). Required on first use, so a Bun thread never loads it.
 */
import { createRequire } from "node:module";

type Yaml = { parse(text: string): unknown; stringify(value: unknown, options: { indent: number }): string };
let yaml: Yaml | undefined;
const load = (): Yaml => (yaml ??= createRequire(import.meta.url)("yaml") as Yaml);

export function parseYaml(text: string): unknown {
  return load().parse(text);
}

export function stringifyYaml(value: unknown): string {
  const out = load().stringify(value, { indent: 2 });
  return out.endsWith("\n") ? out : `${out}\n`;
}
