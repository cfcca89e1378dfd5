// Shared by the in-process dev aids: real clients and replicas in one thread, joined by
// MessageChannels, so one CPU profile sees a whole path.
import { Client } from "../../runtime/router/client.ts";
import { Replica } from "../../runtime/replica/replica.ts";
import { BatchedPort } from "../../runtime/wire/port.ts";

export const LIMITS = { maxOngoingRequests: 100_000, maxQueuedRequests: -1 };

/** A client that asks no controller for anything (the dev aid wires it by hand). */
export const client = (name: string): Client => new Client(name, { subscribe() {}, connect() {} });

/** A replica of deployment `name` in app "app", serving `instance`, calling out through `via`. */
export function replica(id: string, name: string, instance: object, via: Client): Replica {
  return new Replica(id, "app", { name, kind: "class", options: LIMITS, handles: [] } as any, instance, via);
}

/** Gives `from` (thread `caller`) a port to `to` (replica `id` of deployment `name`), and routes `name` to it. */
export function connect(from: Client, caller: string, to: Replica, id: string, name: string): void {
  const ch = new MessageChannel();
  const cp = { caller, port: new BatchedPort<any, any>(ch.port2 as any) };
  cp.port.listen((m) => to.receive(cp as any, m));
  to.addCaller(cp as any); // calls sent on for `caller` (chaining) are answered on this port
  from.addLink(id, ch.port1 as any);
  from.setReplicas(`app/${name}`, [id], LIMITS);
}
