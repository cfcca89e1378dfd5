/**
 * Which replica takes the next request: power of two choices on in-flight counts, among
 * replicas below `maxOngoingRequests`. Kept apart from the queue so it reads and tests alone.
 */

export interface Candidate {
  inFlight: number;
  dead: boolean;
}

/** A replica with room, or undefined when every one is at `maxOngoing`. */
export function pickReplica<C extends Candidate>(replicas: readonly C[], maxOngoing: number): C | undefined {
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
