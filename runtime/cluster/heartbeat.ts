/** Heartbeats: every node says it is alive once a second; the head declares one silent for 5 s dead. */

export const HEARTBEAT_EVERY_MS = 1000;
export const DEAD_AFTER_MS = 5000;

export interface Heartbeat {
  node: string;
  /** Its HTTP proxy. */
  httpUrl: string | null;
  /** The replicas it runs. */
  replicas: string[];
  /** Set by the head: when it started (a new value means the head restarted and its replicas are gone). */
  headSince?: number;
  /** Set by a worker node: when it started (a new value means it was started again under its id, and what ran there died). */
  since?: number;
}

/** A node's main thread (its proxy's client) is the caller thread `main@<node>`. */
export const nodeMain = {
  name: (node: string): string => `main@${node}`,
  node: (thread: string): string | undefined => (thread.startsWith("main@") ? thread.slice(5) : undefined),
};
