/** YAML output (Bun has it built in; Deno would use a package here). */
export function stringifyYaml(value: unknown): string {
  const out = Bun.YAML.stringify(value, null, 2);
  return out.endsWith("\n") ? out : `${out}\n`;
}
