/**
 * Which module a replica imports in a cluster: the node's copy of the code that was deployed
 * (cluster/code.ts), so every replica, on any node and at any later time, runs that code even
 * if the files on the head changed or were removed since.
 */
import type { DeploymentSpec } from "../../sdk/graph.ts";
import type { PreparedApp } from "../admin/apply.ts";
import type { CodeStore } from "./code.ts";

/** Stores an application's files before it deploys; its deployments name the stored version. */
export async function storeCode(store: CodeStore, app: PreparedApp): Promise<void> {
  if (app.files.length === 0) return;
  const version = await store.put(app.files);
  for (const d of app.spec.deployments) d.codeVersion = version;
}

/**
 * `spec` with its module in this node's copy of its code version. A deployment without one
 * (made with serve.run() in the head's process) or defined in an installed package (which every
 * node has) is imported from where it is.
 */
export async function fromDeployedCode(store: CodeStore, spec: DeploymentSpec): Promise<DeploymentSpec> {
  if (!spec.codeVersion) return spec;
  const copy = await store.materialize(spec.codeVersion);
  let file: string;
  try {
    file = copy.localPath(spec.source.file);
  } catch {
    return spec;
  }
  return { ...spec, source: { ...spec.source, file } };
}
