/** YAML parsing (Bun has it built in; Deno would use a package here). */
export function parseYaml(text: string): unknown {
  return Bun.YAML.parse(text);
}
