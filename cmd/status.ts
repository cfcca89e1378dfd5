/** `tsserve status`: applications, deployments, replica states and messages. */
import type { ServeStatus } from "../sdk/status.ts";
import { ADDRESS_OPTION, adminAddress, parse } from "./args.ts";
import { getState } from "./client.ts";
import { bold, dim, out, statusColor, UsageError } from "./output.ts";
import { table } from "./table.ts";

export const summary = "show applications, deployments and replicas of a running instance";

export const help = `Usage: tsserve status [--json] [--address <url>]

Shows the applications of a running instance, their deployments, replica states and
messages, autoscaled deployments' target and current replicas, and the multiplexed model
ids each replica holds: a table for people (colour on a terminal, none with NO_COLOR), or with --json
the shape of serve.status():
  { proxy: { url, status }, applications: { <app>: { status, message, routePrefix,
    deployments: { <name>: { status, message, replicaStates: { RUNNING: n, ... } } } } },
    nodes: { <id>: { status: ALIVE | DEAD, replicas, httpUrl, head } } }
(nodes, and each replica's node, only on a cluster's head: tsserve start --head --cluster)

Options:
  --json           print JSON
  --address <url>  admin API (default TSSERVE_ADDRESS, else http://127.0.0.1:8265)
  -h, --help       show this help`;

export async function status(argv: string[]): Promise<void> {
  const { values, positionals } = parse("status", argv, { ...ADDRESS_OPTION, json: { type: "boolean" } });
  if (values.help) return out(help);
  if (positionals.length) throw new UsageError(`tsserve status: unexpected argument "${positionals[0]}"`);
  const state = await getState(adminAddress(values.address));
  const status: ServeStatus = { proxy: state.proxy, applications: state.applications, ...(state.nodes && { nodes: state.nodes }) };
  if (values.json) return out(JSON.stringify(status, null, 2));
  out(statusTable(status));
}

const replicas = (states: Record<string, number | undefined>): string =>
  Object.entries(states)
    .filter(([, n]) => n)
    .map(([s, n]) => `${s} ${n}`)
    .join(", ") || "none";

type DeploymentInfo = ServeStatus["applications"][string]["deployments"][string];

/** Where a deployment is heading: autoscaled, its target, current count and range; else its target when it differs. */
function target(d: DeploymentInfo): string {
  const a = d.autoscaling;
  if (a) return dim(` (target ${d.targetReplicas}, current ${d.currentReplicas}, auto ${a.minReplicas}-${a.maxReplicas})`);
  return d.targetReplicas !== undefined && d.targetReplicas !== d.currentReplicas ? dim(` (target ${d.targetReplicas})`) : "";
}

/**
 * One row per replica when there is something to say of each: the multiplexed models it holds,
 * the node it runs on (a cluster).
 */
function replicaRows(d: DeploymentInfo): string[][] {
  const replicas = d.replicas ?? [];
  const models = replicas.some((r) => r.multiplexedModelIds?.length);
  const nodes = replicas.some((r) => r.node !== undefined);
  if (!models && !nodes) return [];
  return replicas.map((r) => {
    const about = [];
    if (nodes) about.push(`on ${r.node ?? "?"}`);
    if (models) about.push(r.multiplexedModelIds.length ? `models ${r.multiplexedModelIds.join(", ")}` : dim("no models"));
    return [dim(`    ${r.replicaId.split("#").at(-1)}`), statusColor(r.state), about.join(", "), ""];
  });
}

/** The nodes of a cluster: one row each, the head first. */
function nodeTable(nodes: NonNullable<ServeStatus["nodes"]>): string {
  const rows: string[][] = [[bold("NODE"), bold("STATUS"), bold("REPLICAS"), bold("HTTP")]];
  const sorted = Object.entries(nodes).sort(([a, x], [b, y]) => Number(y.head) - Number(x.head) || a.localeCompare(b));
  for (const [id, n] of sorted) rows.push([n.head ? `${id} ${dim("(head)")}` : id, statusColor(n.status), String(n.replicas), n.httpUrl ?? ""]);
  return table(rows);
}

/** The status as people read it. */
export function statusTable(status: ServeStatus): string {
  const lines = [`Proxy: ${statusColor(status.proxy.status)}${status.proxy.url ? ` at ${status.proxy.url}` : ""}`, ""];
  if (status.nodes) lines.push(nodeTable(status.nodes), "");
  const apps = Object.entries(status.applications);
  if (!apps.length) return [...lines, "No applications."].join("\n");
  const rows: string[][] = [[bold("APPLICATION / DEPLOYMENT"), bold("STATUS"), bold("REPLICAS"), bold("MESSAGE")]];
  for (const [name, app] of apps) {
    const route = app.routePrefix === null ? dim("(no route)") : dim(app.routePrefix);
    rows.push([`${name} ${route}`, statusColor(app.status), "", app.message]);
    for (const [dn, d] of Object.entries(app.deployments)) {
      rows.push([`  ${dn}`, statusColor(d.status), replicas(d.replicaStates) + target(d), d.message]);
      rows.push(...replicaRows(d));
    }
  }
  return [...lines, table(rows)].join("\n");
}
