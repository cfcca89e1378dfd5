/**
 * What the head keeps in JetStream KV (bucket `<cluster>_state`) so that a head restarted with the
 * same cluster URL takes everything back: each config application (its config, spec and files)
 * and each replica running on a worker node (where, and which version of its deployment).
 */
import { Kvm, type KV } from "@nats-io/kv";
import type { PreparedApp } from "../admin/apply.ts";
import { logger } from "../log/logger.ts";
import { decodeWire, encodeWire } from "./codec.ts";
import type { NatsConnection } from "./connection.ts";
import type { Subjects } from "./options.ts";

export interface ReplicaRecord {
  id: string;
  app: string;
  deployment: string;
  node: string;
  /** The deployment's version when the replica started (DeploymentState.version). */
  version: string;
}

/** KV keys allow letters, digits and `-_=./`; names may hold anything, so they go as base64url. */
const key = (kind: "app" | "replica", name: string): string => `${kind}.${Buffer.from(name).toString("base64url")}`;

export class ClusterState {
  private constructor(readonly kv: KV) {}

  static async open(nc: NatsConnection, subjects: Subjects): Promise<ClusterState> {
    try {
      return new ClusterState(await new Kvm(nc).create(subjects.stateBucket, { history: 1 }));
    } catch (e) {
      throw new Error(`cannot open the cluster's state (JetStream KV bucket ${subjects.stateBucket}): ${(e as Error).message}; is nats-server running with JetStream (-js)?`);
    }
  }

  async #all<T>(kind: "app" | "replica"): Promise<T[]> {
    const out: T[] = [];
    for await (const k of await this.kv.keys(`${kind}.*`)) {
      const e = await this.kv.get(k);
      if (e?.operation === "PUT" && e.value.length) out.push(decodeWire(e.value) as T);
    }
    return out;
  }

  apps(): Promise<PreparedApp[]> {
    return this.#all<PreparedApp>("app");
  }

  replicas(): Promise<ReplicaRecord[]> {
    return this.#all<ReplicaRecord>("replica");
  }

  /** The config applications are now exactly `apps`. */
  async setApps(apps: PreparedApp[]): Promise<void> {
    const keep = new Set(apps.map((a) => key("app", a.config.name)));
    await this.#write(async () => {
      for (const a of apps) await this.kv.put(key("app", a.config.name), encodeWire(a));
      for await (const k of await this.kv.keys("app.*")) if (!keep.has(k)) await this.kv.delete(k);
    });
  }

  putReplica(r: ReplicaRecord): void {
    void this.#write(() => this.kv.put(key("replica", r.id), encodeWire(r)));
  }

  deleteReplica(id: string): void {
    void this.#write(() => this.kv.delete(key("replica", id)));
  }

  /** Writes in order, one at a time; a failed write is logged (the state is a copy: the head runs on without it). */
  #chain: Promise<unknown> = Promise.resolve();

  #write(fn: () => Promise<unknown>): Promise<void> {
    const next = this.#chain.then(fn).then(
      () => {},
      (e: Error) => logger.warn(`cluster state: a write to KV failed: ${e.message}`),
    );
    this.#chain = next;
    return next;
  }
}
