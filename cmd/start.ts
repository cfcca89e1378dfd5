/** `tsserve start`: a long-lived instance (controller, HTTP proxy, admin API) with no apps. */
import { logFormatArg, parse, portArg } from "./args.ts";
import { Instance } from "./instance.ts";
import { clusterArgs, startWorkerNode } from "./node.ts";
import { bold, dim, out, UsageError } from "./output.ts";
import { version } from "./version.ts";

export const summary = "run an instance with no applications (HTTP proxy and admin API), in the foreground";

export const help = `Usage: tsserve start [options]

Starts the controller, the HTTP proxy and the admin API, with no applications, and runs in
the foreground until Ctrl-C, SIGTERM or tsserve shutdown. Send it applications with
tsserve deploy. The admin API requires a bearer token: TSSERVE_TOKEN when set, otherwise
the token in ~/.tsserve/token, created (mode 0600) if there is none.

Options:
  --host <host>        HTTP host (default 127.0.0.1)
  --port <port>        HTTP port (default 8000; 0 picks a free port)
  --admin-host <host>  admin API host (default 127.0.0.1; keep it on loopback unless you must)
  --admin-port <port>  admin API port (default 8265; 0 picks a free port)
  --log-format <fmt>   text (default): one line per log record; json: one JSON object per
                       line (also TSSERVE_LOG_FORMAT=json, or logging: { encoding: JSON })
  -h, --help           show this help

Many machines (a cluster on NATS; nats-server with JetStream):
  --cluster <url>      the cluster's NATS server, e.g. nats://10.0.0.5:4222 (credentials may
                       be in the URL: nats://user:pass@host:4222; tls://host:4222 for TLS)
  --head               this node is the head: controller, admin API, HTTP proxy, replicas
                       (without --head: a worker node that hosts replicas and runs a proxy)
  --cluster-name <n>   subjects and buckets are under this name (default tsserve), so two
                       clusters can share one NATS
  --cluster-creds <f>  a NATS credentials file
  --node-id <id>       this node's id (default: the host's name and a random part)`;

export async function start(argv: string[]): Promise<void> {
  const { values, positionals } = parse("start", argv, {
    host: { type: "string" },
    port: { type: "string" },
    "admin-host": { type: "string" },
    "admin-port": { type: "string" },
    "log-format": { type: "string" },
    cluster: { type: "string" },
    head: { type: "boolean" },
    "cluster-name": { type: "string" },
    "cluster-creds": { type: "string" },
    "node-id": { type: "string" },
  });
  if (values.help) return out(help);
  const cluster = clusterArgs(values);
  if (positionals.length) throw new UsageError(`tsserve start: unexpected argument "${positionals[0]}"; to serve an app, use tsserve run, or tsserve deploy to a started instance`);
  const port = portArg(values.port, "--port");
  const http = { ...(values.host !== undefined && { host: values.host }), ...(port !== undefined && { port }) };
  if (cluster && !cluster.head) {
    if (values["admin-host"] !== undefined || values["admin-port"] !== undefined) throw new UsageError("tsserve start: only the head serves the admin API; drop --admin-host/--admin-port, or add --head");
    return startWorkerNode(cluster, http, logFormatArg(values["log-format"]));
  }
  const adminPort = portArg(values["admin-port"], "--admin-port");
  const instance = await Instance.start({
    ...(cluster && { cluster }),
    http,
    admin: { ...(values["admin-host"] !== undefined && { host: values["admin-host"] }), ...(adminPort !== undefined && { port: adminPort }) },
    logging: logFormatArg(values["log-format"]),
  });
  out(`${bold(`tsserve ${version}`)} started${cluster ? ` as the head of cluster ${cluster.name} (node ${cluster.nodeId})` : ""}`);
  out(`HTTP proxy at ${bold(instance.httpUrl)}`);
  out(`Admin API at ${bold(instance.admin!.url)}${instance.tokenFile ? ` (token in ${instance.tokenFile})` : " (token from TSSERVE_TOKEN)"}`);
  if (instance.dashboardUrl) out(`Dashboard at ${bold(instance.dashboardUrl)}`);
  out(dim("Deploy with: tsserve deploy <config.yaml | file.ts:export>. Press Ctrl-C to stop."));
  await instance.block();
}
