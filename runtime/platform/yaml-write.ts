/** Bun's YAML output: built in. */
export function stringifyYaml(value: unknown): string {
  const out = Bun.YAML.stringify(value, null, 2);
  return out.endsWith("\n") ? out : `${out}\n`;
}
