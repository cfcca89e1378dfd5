/**
 * Which replica takes the next request: power of two choices on in-flight counts, among
 * replicas below `maxOngoingRequests`. Kept apart from the queue so it reads and tests alone.
 */

export interface Candidate {
  inFlight: number;
  dead: boolean;
  /** Multiplexed model ids the replica holds or is loading. */
  models: ReadonlySet<string>;
  /** On another node of a cluster. */
  remote?: boolean;
}

/**
 * For a request with a model id: a replica holding (or loading) that model when one has
 * room; otherwise one with room among those holding the fewest models, which will load it. So
 * traffic for one model sticks to one replica until it is full, then spills.
 *
 * Among the fewest-models replicas the choice is pickReplica's (this node first, then the less
 * busy of two): a deployment that is not multiplexed itself (an ingress that reads the
 * `serve_multiplexed_model_id` header and passes it on) has no models anywhere, and its
 * requests must spread and stay local as any other call does, not all go to the first replica.
 */
export function pickForModel<C extends Candidate>(replicas: readonly C[], maxOngoing: number, modelId: string): C | undefined {
  let best: C | undefined;
  let fewest = Infinity;
  for (const r of replicas) {
    if (r.dead || r.inFlight >= maxOngoing) continue;
    fewest = Math.min(fewest, r.models.size);
    if (!r.models.has(modelId)) continue;
    if (!best || r.inFlight < best.inFlight) best = r;
  }
  if (best || fewest === Infinity) return best;
  return pickReplica(replicas.filter((r) => r.models.size === fewest), maxOngoing);
}

/**
 * A replica with room, or undefined when every one is at `maxOngoing`. In a cluster, one on this
 * node when one here has room: a hop over NATS costs more than a local replica's extra
 * in-flight requests, up to its limit. (Model affinity, above, wins over locality: loading a model
 * costs more than a hop.)
 */
export function pickReplica<C extends Candidate>(replicas: readonly C[], maxOngoing: number): C | undefined {
  if (!replicas.some((r) => r.remote)) return pickAmong(replicas, maxOngoing);
  return pickAmong(replicas.filter((r) => !r.remote), maxOngoing) ?? pickAmong(replicas.filter((r) => r.remote), maxOngoing);
}

function pickAmong<C extends Candidate>(replicas: readonly C[], maxOngoing: number): C | undefined {
  const n = replicas.length;
  if (n === 0) return undefined;
  if (n === 1) {
    const only = replicas[0]!;
    return only.inFlight < maxOngoing && !only.dead ? only : undefined;
  }
  const i = (Math.random() * n) | 0;
  let j = (Math.random() * (n - 1)) | 0;
  if (j >= i) j++;
  const a = replicas[i]!;
  const b = replicas[j]!;
  const aOk = a.inFlight < maxOngoing && !a.dead;
  const bOk = b.inFlight < maxOngoing && !b.dead;
  if (aOk && bOk) return a.inFlight <= b.inFlight ? a : b;
  if (aOk) return a;
  if (bOk) return b;
  // Both samples are full: look for any replica with room before queueing.
  let best: C | undefined;
  for (const r of replicas) {
    if (r.inFlight < maxOngoing && !r.dead && (!best || r.inFlight < best.inFlight)) best = r;
  }
  return best;
}
