/**
 * Applying a config: import every application (each in a fresh Worker), lay the config's
 * option overrides over the options set in code, then deploy. Applying replaces the set of
 * applications that configs deployed; applications made with `serve.run()` are left alone.
 * The controller keeps replicas whose code and arguments are unchanged, so a change of
 * options applies in place, and a change of code replaces replicas (rolling).
 */
import type { AppSpec, DeploymentSpec } from "../../sdk/graph.ts";
import { type DeploymentOptions, resolveOptions, validateOptions } from "../../sdk/options.ts";
import type { Controller } from "../controller/controller.ts";
import { logger } from "../log/logger.ts";
import { startingReplicas } from "../controller/autoscaler.ts";
import { absoluteImportPath, importApp } from "./import.ts";
import { type AppConfig, ConfigError, type DeploymentConfig, optionMessage, type ServeConfig } from "./schema.ts";

/** One application of a config, imported and ready to deploy. */
export interface PreparedApp {
  /** As given, with `importPath` made absolute. */
  config: AppConfig;
  spec: AppSpec;
  /** The user files the application loaded (what `--reload` watches). */
  files: string[];
}

export interface Prepared {
  config: ServeConfig;
  apps: PreparedApp[];
}

/**
 * Imports every application of `config` and applies its overrides. `file` names the config in
 * messages; relative import paths are relative to `baseDir`. Throws ConfigError.
 */
export async function prepareConfig(config: ServeConfig, file: string, baseDir: string): Promise<Prepared> {
  const apps = await Promise.all(
    config.applications.map(async (app, i): Promise<PreparedApp> => {
      const importPath = absoluteImportPath(app.importPath, baseDir);
      let imported;
      try {
        imported = await importApp(importPath, { name: app.name, routePrefix: app.routePrefix, args: app.args });
      } catch (err) {
        throw new ConfigError(`${file}: applications[${i}].importPath: ${(err as Error).message}`, (err as Error).message);
      }
      const spec = withOverrides(imported.spec, app.deployments, `${file}: applications[${i}]`);
      for (const d of spec.deployments) d.codeVersion = imported.codeVersion;
      return { config: { ...app, importPath }, spec, files: imported.files };
    }),
  );
  return { config, apps };
}

/** The spec with `overrides` laid over each deployment's options from code. */
export function withOverrides(spec: AppSpec, overrides: DeploymentConfig[], where: string): AppSpec {
  const byName = new Map(spec.deployments.map((d) => [d.name, d]));
  overrides.forEach((o, j) => {
    const d = byName.get(o.name);
    const path = `deployments[${j}]`;
    if (!d) {
      throw new ConfigError(
        `${where}.${path}.name: application "${spec.name}" has no deployment named "${o.name}"; its deployments: ${spec.deployments.map((x) => x.name).join(", ")}`,
      );
    }
    const { name: _, ...given } = o;
    const merged: DeploymentOptions = { ...(d.givenOptions as DeploymentOptions), ...given };
    delete merged.name;
    // A config's replica count wins over the code's: a fixed count drops the code's autoscaling, and the other way round.
    if (typeof given.numReplicas === "number") delete merged.autoscalingConfig;
    if (given.autoscalingConfig !== undefined && typeof merged.numReplicas === "number") merged.numReplicas = "auto";
    try {
      validateOptions(merged);
    } catch (err) {
      throw new ConfigError(optionMessage(`${where}.${path}`, (err as Error).message));
    }
    if (given.userConfig !== undefined && d.reconfigurable === false) {
      throw new ConfigError(
        `${where}.${path}.userConfig: deployment "${o.name}" has no reconfigure(userConfig) method; add one to it or remove userConfig`,
      );
    }
    d.options = resolveOptions(merged);
  });
  return spec;
}

/** How many replicas a deployment starts with. */
export function wantedReplicas(d: DeploymentSpec): number {
  const n = d.options.numReplicas;
  return n === "auto" ? startingReplicas(d.options.autoscalingConfig) : n;
}

/** "replace": the config is the whole set of config applications; "add": it adds or replaces its own only. */
export type ApplyMode = "replace" | "add";

export interface ApplyResult {
  deployed: string[];
  deleted: string[];
  /** Applications that failed to deploy, with the reason. */
  errors: Record<string, string>;
}

/** Applies configs to one controller, one at a time, and remembers what configs deployed. */
export class ConfigApplier {
  #apps = new Map<string, PreparedApp>();
  #queue: Promise<unknown> = Promise.resolve();
  /** Applies asked for, and applies finished (the CLI waits for its own to finish). */
  requested = 0;
  completed = 0;
  lastErrors: Record<string, string> = {};
  /**
   * Called after each apply with the config applications as they now are (a cluster's head
   * stores them); the apply completes once it resolves, so a deploy said done is stored.
   */
  onApplied: ((apps: PreparedApp[]) => void | Promise<void>) | undefined;
  /** Called before an application deploys (a cluster's head stores its code for every node). */
  beforeDeploy: ((app: PreparedApp) => Promise<void>) | undefined;

  constructor(readonly controller: Controller) {}

  /** Names of the applications that configs deployed. */
  get appNames(): string[] {
    return [...this.#apps.keys()];
  }

  /**
   * Throws ConfigError when an application's route prefix is taken by an app that stays: one
   * made with serve.run(), or (when `mode` is "add") another config application.
   */
  check(prepared: Prepared, file: string, mode: ApplyMode = "replace"): void {
    prepared.apps.forEach((app, i) => {
      const prefix = app.config.routePrefix;
      if (prefix === null) return;
      for (const [name, other] of this.controller.apps) {
        if (name === app.config.name || other.spec.routePrefix !== prefix) continue;
        const fromConfig = this.#apps.has(name);
        if (fromConfig && mode === "replace") continue;
        throw new ConfigError(
          `${file}: applications[${i}].routePrefix "${prefix}" is already used by application "${name}" (deployed with ${fromConfig ? "a config" : "serve.run()"}); choose another prefix or delete that application`,
        );
      }
    });
  }

  /** What applying `prepared` would delete: the config applications it does not list, unless `mode` is "add". */
  toDelete(prepared: Prepared, mode: ApplyMode = "replace"): string[] {
    if (mode === "add") return [];
    const names = new Set(prepared.apps.map((a) => a.config.name));
    return [...this.#apps.keys()].filter((n) => !names.has(n));
  }

  /**
   * Deploys the applications of `prepared`. In "replace" mode (a config file: declarative) it
   * first deletes the config applications that `prepared` drops; in "add" mode (one module
   * given as file.ts:export) the others stay. Resolves when every application runs or failed
   * (`errors`); applies run one at a time.
   */
  apply(prepared: Prepared, mode: ApplyMode = "replace"): { generation: number; done: Promise<ApplyResult> } {
    const generation = ++this.requested;
    const done = this.#queue.then(() => this.#apply(prepared, generation, mode));
    this.#queue = done.catch(() => {});
    return { generation, done };
  }

  async #apply(prepared: Prepared, generation: number, mode: ApplyMode): Promise<ApplyResult> {
    const listed = new Map(prepared.apps.map((a) => [a.config.name, a]));
    const deleted = this.toDelete(prepared, mode);
    const next = mode === "add" ? new Map([...this.#apps, ...listed]) : listed;
    this.#apps = next;
    const errors: Record<string, string> = {};
    logger.info(`applying config ${generation}: deploying ${prepared.apps.map((a) => a.config.name).join(", ") || "nothing"}${deleted.length ? `, deleting ${deleted.join(", ")}` : ""}`);
    try {
      await Promise.all(deleted.map((n) => this.controller.delete(n)));
      const results = await Promise.allSettled(prepared.apps.map(async (a) => {
        await this.beforeDeploy?.(a);
        await this.controller.deploy(a.spec);
      }));
      results.forEach((r, i) => {
        const application = prepared.apps[i]!.config.name;
        if (r.status === "rejected") {
          errors[application] = (r.reason as Error)?.message ?? String(r.reason);
          logger.warn(`config ${generation}: application ${application} failed to deploy: ${errors[application]}`, { application });
        } else logger.info(`config ${generation}: application ${application} is running`, { application });
      });
    } finally {
      await this.onApplied?.([...this.#apps.values()]);
      this.completed = generation;
      this.lastErrors = errors;
    }
    return { deployed: prepared.apps.map((a) => a.config.name), deleted, errors };
  }

  /** The applications that configs deployed, as their configs say (import paths absolute). */
  applications(): AppConfig[] {
    return [...this.#apps.values()].map((a) => a.config);
  }

  /** Forgets every config application (after the runtime shut down). */
  clear(): void {
    this.#apps.clear();
  }
}
