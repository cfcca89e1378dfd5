/**
 * The node's one NATS connection. Credentials come from the URL (`nats://user:pass@host:4222`)
 * or a credentials file (`--cluster-creds`); `tls://` URLs (or a server that requires TLS) use
 * TLS with the system's trust store.
 */
import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import type { ClusterOptions } from "./options.ts";

export type { NatsConnection };

export async function connectCluster(options: ClusterOptions): Promise<NatsConnection> {
  let user: string | undefined;
  let pass: string | undefined;
  const servers = options.url.split(",").map((s) => {
    const u = new URL(s.trim());
    if (u.username) {
      user = decodeURIComponent(u.username);
      pass = decodeURIComponent(u.password);
    }
    return `${u.protocol}//${u.host}`;
  });
  let authenticator;
  if (options.credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(options.credsFile);
    } catch (e) {
      throw new Error(`--cluster-creds: cannot read ${options.credsFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    authenticator = credsAuthenticator(creds);
  }
  try {
    return await connect({
      servers,
      name: `tsserve ${options.head ? "head" : "node"} ${options.nodeId}`,
      ...(user !== undefined && { user, pass }),
      ...(authenticator && { authenticator }),
      ...(servers.some((s) => s.startsWith("tls:")) && { tls: {} }),
      // A node rides out a NATS restart: it reconnects for as long as it runs.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
  } catch (e) {
    throw new Error(`cannot reach the cluster's NATS server at ${servers.join(", ")}: ${(e as Error).message}; start nats-server with JetStream (nats-server -js) or fix --cluster`);
  }
}
