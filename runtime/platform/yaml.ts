/** Bun's YAML parsing: built in. */
export function parseYaml(text: string): unknown {
  return Bun.YAML.parse(text);
}
