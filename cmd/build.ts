/** `tsserve build`: writes the config for some applications, with every deployment's options. */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, relative, resolve, sep } from "node:path";
import { type AppConfig, DEFAULT_ADMIN, type DeploymentConfig, importApp, type ServeConfig, splitImportPath, validateConfig } from "../runtime/admin/index.ts";
import { DEFAULT_HTTP } from "../runtime/main.ts";
import { stringifyYaml } from "../runtime/platform/index.ts";
import { parse } from "./args.ts";
import { CliError, err, out, UsageError } from "./output.ts";

export const summary = "write a config for file.ts:export targets, with every deployment's options";

export const help = `Usage: tsserve build <file.ts[:export] ...> [-o config.yaml]

Imports each target and writes a config (YAML) that deploys them, listing every deployment
of each application with the options its code sets, ready to edit and to pass to
tsserve deploy or tsserve run. One target becomes the application "default" at "/"; with
several, each is named after its file and served at "/<name>". Import paths are written
relative to the output file.

Options:
  -o, --output <file>  write here instead of printing
  -h, --help           show this help`;

export async function build(argv: string[]): Promise<void> {
  const { values, positionals } = parse("build", argv, { output: { type: "string", short: "o" } });
  if (values.help) return out(help);
  if (!positionals.length) throw new UsageError("tsserve build: give at least one file.ts[:export] to build a config for");
  const outFile = values.output === undefined ? undefined : resolve(values.output);
  const base = outFile ? dirname(outFile) : process.cwd();
  const used = new Set<string>();
  const applications: AppConfig[] = [];
  for (const target of positionals) {
    const { file, exportName } = splitImportPath(target);
    let name = "default";
    if (positionals.length > 1) {
      const stem = basename(file, extname(file)).replace(/[^\w-]/g, "_") || "app";
      name = stem;
      for (let i = 1; used.has(name); i++) name = `${stem}_${i}`;
    }
    used.add(name);
    const routePrefix = positionals.length > 1 ? `/${name}` : "/";
    let imported;
    try {
      imported = await importApp(target, { name, routePrefix });
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    let rel = relative(base, resolve(file)).split(sep).join("/");
    if (!rel.startsWith(".") && !rel.startsWith("/")) rel = `./${rel}`;
    const deployments: DeploymentConfig[] = imported.spec.deployments.map((d) => {
      const { name: _, ...given } = d.givenOptions;
      return { name: d.name, ...given };
    });
    applications.push({ name, routePrefix, importPath: `${rel}:${exportName ?? imported.exportName}`, args: {}, deployments });
  }
  const config: ServeConfig = { http: { ...DEFAULT_HTTP, requestTimeoutMs: null }, admin: { ...DEFAULT_ADMIN }, applications };
  validateConfig(config, "the built config");
  const header = `# Written by tsserve build ${positionals.join(" ")}\n# Import paths are relative to this file. Options under deployments override the code's.\n`;
  const text = header + stringifyYaml(config);
  if (!outFile) return void process.stdout.write(text);
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, text);
  err(`Wrote ${values.output} (${applications.length} application${applications.length === 1 ? "" : "s"}, ${applications.reduce((n, a) => n + a.deployments.length, 0)} deployments)`);
}
