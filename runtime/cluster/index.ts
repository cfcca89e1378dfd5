/** Joining a cluster, as the head or as a worker node (`tsserve start --cluster`). */
import type { MainRuntime } from "../main.ts";
import { connectCluster } from "./connection.ts";
import { ClusterHead } from "./head.ts";
import { type ClusterOptions, Subjects } from "./options.ts";
import { WorkerNode } from "./worker_node.ts";
import { ClusterState } from "./state.ts";
import { CodeStore } from "./code.ts";

export { clusterOptions, DEFAULT_CLUSTER_NAME, type ClusterOptions } from "./options.ts";
export { WorkerNode } from "./worker_node.ts";

/**
 * Makes the main runtime the cluster's head: its controller places replicas on every live node.
 * `restore`: the caller calls `head.restore(applier)` next, to take back what a head before it ran.
 */
export async function startHead(options: ClusterOptions, runtime: MainRuntime, httpUrl: string, restore = false): Promise<ClusterHead> {
  const nc = await connectCluster(options);
  const subjects = new Subjects(options.name);
  let state;
  let code;
  try {
    [state, code] = await Promise.all([ClusterState.open(nc, subjects), CodeStore.open(nc, options.name)]);
  } catch (e) {
    await nc.close();
    throw e;
  }
  const me = options.nodeId;
  const local = (id: string) => {
    const r = runtime.controller.replica(id);
    return r && r.node === me ? r : undefined;
  };
  const head = new ClusterHead(nc, subjects, options, runtime.controller, {
    threads: {
      mainName: "main",
      main: runtime.mainThread,
      replica: local,
      replicas: () => [...runtime.controller.replicaWorkers()].filter((r) => r.node === me),
    },
    routes: () => runtime.routes(),
    httpUrl,
  }, state, code, restore);
  runtime.cluster = head;
  const routesChanged = runtime.controller.onRoutesChanged;
  runtime.controller.onRoutesChanged = () => {
    routesChanged();
    head.publishRoutes();
  };
  return head;
}

/** Connects a worker node (its runtime is made with `node.main`, then `node.join(...)` once its proxy listens). */
export function connectWorkerNode(options: ClusterOptions): Promise<WorkerNode> {
  return WorkerNode.connect(options);
}
