/**
 * Turns an application graph into plain data the runtime can deploy: one spec per
 * deployment, with every bound Application replaced by a handle marker.
 */
import { Application, canReconfigure, deploymentState, isClass, isPlainContainer } from "./deployment.ts";
import { type ResolvedOptions, resolveOptions } from "./options.ts";
import type { Source } from "./registry.ts";

/** Stands for a handle in constructor arguments; the replica swaps in a DeploymentHandle. */
export const HANDLE_MARKER = "$tsserveHandle";

export interface HandleMarker {
  [HANDLE_MARKER]: string;
}

export interface DeploymentSpec {
  name: string;
  source: Source;
  /** A class (methods serve) or a function (it is the `call` method). */
  kind: "class" | "function";
  options: ResolvedOptions;
  /** Options as given in code, for `tsserve build`. */
  givenOptions: Record<string, unknown>;
  args: unknown[];
  /** Names of the deployments this one holds handles to. */
  handles: string[];
  /** Whether the target can take a userConfig (it has a reconfigure method). */
  reconfigurable: boolean;
  /** A digest of the application's files, when a config deployed it: changed code means new replicas. */
  codeVersion?: string;
}

export interface AppSpec {
  name: string;
  routePrefix: string | null;
  ingress: string;
  deployments: DeploymentSpec[];
}

/** Flattens `app` into specs, ingress last. Two binds of one deployment get `Name` and `Name_1`. */
export function buildAppSpec(app: Application, name: string, routePrefix: string | null): AppSpec {
  if (!(app instanceof Application)) {
    throw new TypeError(
      `serve.run() takes an Application (Deployment.bind(...)), got ${describe(app)}`,
    );
  }
  const names = new Map<Application, string>();
  const used = new Set<string>();
  const specs: DeploymentSpec[] = [];

  const visit = (node: Application): string => {
    const known = names.get(node);
    if (known) return known;
    const handles: string[] = [];
    const args = node.args.map((a) => replaceApplications(a, (child) => {
      const childName = visit(child);
      handles.push(childName);
      return { [HANDLE_MARKER]: childName };
    }));
    const state = deploymentState(node.deployment);
    let depName = state.name;
    for (let i = 1; used.has(depName); i++) depName = `${state.name}_${i}`;
    used.add(depName);
    names.set(node, depName);
    specs.push({
      name: depName,
      source: state.source,
      kind: isClass(state.target) ? "class" : "function",
      options: resolveOptions(state.options),
      givenOptions: { ...state.options },
      args,
      handles: [...new Set(handles)],
      reconfigurable: canReconfigure(state.target),
    });
    return depName;
  };
  const ingress = visit(app);
  return { name, routePrefix, ingress, deployments: specs };
}

function replaceApplications(value: unknown, replace: (app: Application) => unknown): unknown {
  if (value instanceof Application) return replace(value);
  if (value === null || typeof value !== "object" || !isPlainContainer(value)) return value;
  if (Array.isArray(value)) return value.map((v) => replaceApplications(v, replace));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = replaceApplications(v, replace);
  return out;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "function") return `a function (${value.name || "anonymous"}); did you forget .bind()?`;
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "Object"})`;
  return typeof value;
}
