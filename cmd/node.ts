/** `tsserve start --cluster URL` without `--head`: a worker node, until Ctrl-C or SIGTERM. */
import { serve, type LoggingSettings } from "../sdk/index.ts";
import { DEFAULT_HTTP, mainRuntime } from "../runtime/main.ts";
import { type ClusterOptions, clusterOptions, connectWorkerNode } from "../runtime/cluster/index.ts";
import { logger } from "../runtime/log/logger.ts";
import { CliError, bold, dim, out, UsageError } from "./output.ts";
import { version } from "./version.ts";

/** How long a leaving node's replicas may drain. */
const LEAVE_DRAIN_MS = 20_000;

/** The cluster flags of `tsserve start`, checked; undefined without `--cluster`. */
export function clusterArgs(values: { cluster?: string; head?: boolean; "cluster-name"?: string; "cluster-creds"?: string; "node-id"?: string }): ClusterOptions | undefined {
  if (values.cluster === undefined) {
    for (const flag of ["head", "cluster-name", "cluster-creds", "node-id"] as const) {
      if (values[flag] !== undefined) throw new UsageError(`tsserve start: --${flag} needs --cluster nats://HOST:PORT`);
    }
    return undefined;
  }
  try {
    return clusterOptions({
      url: values.cluster,
      head: values.head === true,
      ...(values["cluster-name"] !== undefined && { name: values["cluster-name"] }),
      ...(values["cluster-creds"] !== undefined && { credsFile: values["cluster-creds"] }),
      ...(values["node-id"] !== undefined && { nodeId: values["node-id"] }),
    });
  } catch (e) {
    throw new UsageError(`tsserve start: ${(e as Error).message}`);
  }
}

export async function startWorkerNode(options: ClusterOptions, http: { host?: string; port?: number }, logging: LoggingSettings): Promise<never> {
  let node;
  try {
    node = await connectWorkerNode(options);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const runtime = mainRuntime(node.main);
  let httpUrl: string;
  try {
    ({ httpUrl } = await serve.start({ http: { ...DEFAULT_HTTP, requestTimeoutMs: null, ...http }, logging }));
  } catch (e) {
    throw new CliError((e as Error).message.replace("serve.start({ http: { port } })", "--port").replace("serve.start({ http: { host } })", "--host"));
  }
  node.join({ mainThread: runtime.mainThread, setClusterRoutes: (s) => runtime.setClusterRoutes(s), resubscribe: () => runtime.client.resubscribe() }, httpUrl);
  out(`${bold(`tsserve ${version}`)} started as node ${bold(options.nodeId)} of cluster ${options.name}`);
  out(`HTTP proxy at ${bold(httpUrl)}`);
  out(dim("The head places replicas here. Press Ctrl-C to leave the cluster."));
  let leaving: Promise<never> | undefined;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      leaving ??= (async () => {
        out(`\n${signal === "SIGINT" ? "Ctrl-C" : signal}: leaving the cluster...`);
        await node.leave(LEAVE_DRAIN_MS);
        await serve.shutdown();
        logger.flush();
        out("Stopped.");
        process.exit(0);
      })();
    });
  }
  return new Promise<never>(() => {});
}
