/**
 * What `run` and `deploy` serve: a config file (YAML or JSON), or one module
 * `file.ts[:export]` with its name, route prefix and builder args given as flags.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { checkRoutePrefix } from "../sdk/routes.ts";
import { ConfigError, DEFAULT_APP_NAME, isAppName, isConfigFile, located, prepareConfig, type Prepared, type ServeConfig, splitImportPath, validateConfig, yamlErrorPosition } from "../runtime/admin/index.ts";
import { parseYaml } from "../runtime/platform/index.ts";
import { keyValues } from "./args.ts";
import { CliError, UsageError } from "./output.ts";

export interface Source {
  config: ServeConfig;
  /** Names the config in messages: the path as the user gave it. */
  label: string;
  /** Relative import paths are relative to this directory. */
  baseDir: string;
  /** The config file, when the target was one (watched by --reload). */
  configFile: string | undefined;
}

export interface TargetFlags {
  name?: string;
  "route-prefix"?: string;
}

/** Reads and checks a config file; errors name the file and the key path. */
export function readConfig(path: string): Source {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (e) {
    throw new CliError(`${path}: cannot read the config: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  let raw: unknown;
  const json = /\.json$/i.test(abs);
  try {
    raw = json ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    const message = (e as Error).message.replace(/^YAML Parse error: /, "");
    const at = json ? undefined : yamlErrorPosition(text, parseYaml);
    if (at) throw new CliError(located(`not valid YAML: ${message}`, { file: path, ...at }));
    throw new CliError(`${path}: not valid ${json ? "JSON" : "YAML"}: ${message}`);
  }
  try {
    return { config: validateConfig(raw, path), label: path, baseDir: dirname(abs), configFile: abs };
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message);
    throw e;
  }
}

/** A config file, or a one-application config for `file.ts[:export]` and its flags and key=value args. */
export function readTarget(command: string, target: string, flags: TargetFlags, rest: string[]): Source {
  if (isConfigFile(target)) {
    if (flags.name !== undefined || flags["route-prefix"] !== undefined || rest.length) {
      throw new UsageError(`tsserve ${command}: --name, --route-prefix and key=value arguments apply to a file.ts target; a config sets them per application`);
    }
    return readConfig(target);
  }
  const name = flags.name ?? DEFAULT_APP_NAME;
  if (!isAppName(name)) throw new UsageError(`--name must be a non-empty name without "/", "#" or spaces, got "${name}"`);
  let routePrefix: string | null = "/";
  const given = flags["route-prefix"];
  if (given !== undefined) {
    try {
      routePrefix = given === "none" ? null : checkRoutePrefix(given);
    } catch (e) {
      throw new UsageError(`--route-prefix: ${(e as Error).message}`);
    }
  }
  const { file, exportName } = splitImportPath(target);
  const importPath = resolve(file) + (exportName ? `:${exportName}` : "");
  const config: ServeConfig = { applications: [{ name, routePrefix, importPath, args: keyValues(rest, command), deployments: [] }] };
  return { config, label: target, baseDir: process.cwd(), configFile: undefined };
}

/** Imports every application of the source; an import error is a CliError naming the file and export. */
export async function prepareSource(source: Source): Promise<Prepared> {
  try {
    return await prepareConfig(source.config, source.label, source.baseDir);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // A module given on the command line is not a config: report the import error alone.
    throw new CliError(source.configFile ? e.message : (e.reason ?? e.message));
  }
}
