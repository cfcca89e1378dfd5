/**
 * How a node joins a cluster: the NATS server, the cluster's name (every subject and bucket is
 * under it, so two clusters can share one NATS), credentials, this node's id, and its role.
 */
import { hostname } from "node:os";

export interface ClusterOptions {
  /** `nats://[user:pass@]host:port` (several, comma-separated, for a NATS cluster). */
  url: string;
  /** Subjects `<name>.…` and buckets `<name>_…`. */
  name: string;
  /** A NATS credentials file (`--cluster-creds`). */
  credsFile?: string;
  nodeId: string;
  head: boolean;
}

export const DEFAULT_CLUSTER_NAME = "tsserve";

/** A subject token: letters, digits, `-` and `_` (NATS splits subjects at `.`; `*` and `>` are wildcards). */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** Checks what a user typed; every error names the flag and how to fix it. */
export function clusterOptions(raw: { url: string; name?: string; credsFile?: string; nodeId?: string; head: boolean }): ClusterOptions {
  for (const server of raw.url.split(",")) {
    let u: URL;
    try {
      u = new URL(server.trim());
    } catch {
      throw new TypeError(`--cluster must be a NATS URL such as nats://127.0.0.1:4222, got "${raw.url}"`);
    }
    if (!["nats:", "tls:", "ws:", "wss:"].includes(u.protocol) || !u.hostname) {
      throw new TypeError(`--cluster must be a NATS URL such as nats://127.0.0.1:4222 (or tls://… for TLS), got "${raw.url}"`);
    }
  }
  const name = raw.name ?? DEFAULT_CLUSTER_NAME;
  if (!TOKEN.test(name)) throw new TypeError(`--cluster-name must be 1-64 letters, digits, "-" or "_", got "${name}"`);
  const nodeId = raw.nodeId ?? defaultNodeId(raw.head);
  if (!TOKEN.test(nodeId)) throw new TypeError(`--node-id must be 1-64 letters, digits, "-" or "_", got "${nodeId}"`);
  return { url: raw.url, name, nodeId, head: raw.head, ...(raw.credsFile !== undefined && { credsFile: raw.credsFile }) };
}

/** The host's name and a short random part: two nodes on one machine never collide. */
function defaultNodeId(head: boolean): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 40) || "node";
  return `${head ? "head" : host}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Every subject and bucket of one cluster. */
export class Subjects {
  constructor(readonly cluster: string) {}
  /** Calls to replica `id` (a node subscribes for each replica it hosts). */
  replica(id: string): string {
    return `${this.cluster}.r.${token(id)}`;
  }
  /** Answers to callers on node `node`. */
  caller(node: string): string {
    return `${this.cluster}.c.${node}`;
  }
  /** The head's control requests (nodes -> head). */
  get head(): string {
    return `${this.cluster}.ctl.head`;
  }
  /** One node's control requests (head -> node). */
  node(node: string): string {
    return `${this.cluster}.ctl.node.${node}`;
  }
  /** Heartbeats (every node publishes, the head listens). */
  get heartbeat(): string {
    return `${this.cluster}.ctl.hb`;
  }
  /** A node back on NATS after its connection dropped, subscribed again (cluster/bridge.ts). */
  get back(): string {
    return `${this.cluster}.ctl.back`;
  }
  /** News for every node (a replica gone, the routes). */
  get all(): string {
    return `${this.cluster}.ctl.all`;
  }
  get stateBucket(): string {
    return `${this.cluster}_state`;
  }
}

/**
 * A replica id (`app#deployment#suffix`) as one subject token: NATS gives meaning to whitespace,
 * `.`, `*` and `>`, which app and deployment names may hold, so those are %-escaped.
 */
function token(id: string): string {
  return id.replace(/[\s.*>%]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
