/**
 * The head killed (`kill -9`) under load and started again with the same cluster URL: it takes
 * the applications back from JetStream KV and keeps the replicas that run on worker nodes (same
 * ids: not restarted). Requests through the workers' proxies go on meanwhile; only those that
 * were at the head's own replica when it died fail (500, the replica died), none is lost, and
 * every request after the head is back succeeds.
 */
import { expect, test } from "bun:test";
import { Cluster, clusterForFile, type Status } from "./cluster.ts";

/** A request unanswered this long was lost. */
const LOST_AFTER_MS = 10_000;

let cluster: Cluster;

clusterForFile(2, (c) => (cluster = c));

const workerReplicas = (s: Status) =>
  s.applications.where!.deployments.Where!.replicas.filter((r) => r.node !== "head").map((r) => `${r.node}:${r.replicaId}`).sort();

test("a head killed under load and started again keeps the apps and the workers' replicas; only requests at its own replica fail", async () => {
  const before = await cluster.deployRunning({ name: "where", app: "where", deployments: [{ name: "Where", numReplicas: 3, maxReplicasPerNode: 1 }] });
  expect(before.applications.where!.deployments.Where!.replicas.map((r) => r.node).sort()).toEqual(["head", "w1", "w2"]);
  const kept = workerReplicas(before);

  // 16 clients on the workers' proxies (the head's goes away with it).
  const outcomes: { status: number; body: string; after: boolean; at?: number; proxy?: string }[] = [];
  let killedAt = 0;
  let back = false;
  let stopped = false;
  const proxies = cluster.workers.map((w) => w.http);
  const clients = Array.from({ length: 16 }, async (_, c) => {
    for (let i = 0; !stopped; i++) {
      const after = back;
      const t0 = performance.now();
      try {
        const res = await fetch(`${proxies[(c + i) % proxies.length]}/where/?ms=2`, { signal: AbortSignal.timeout(LOST_AFTER_MS) });
        outcomes.push({ status: res.status, body: await res.text(), after });
      } catch (e) {
        outcomes.push({ status: 0, body: `${String(e)} started ${Math.round(t0 - killedAt)} ms after the kill, via ${proxies[(c + i) % proxies.length]}`, after });
      }
    }
  });
  const answered = async (n: number) => {
    const target = outcomes.length + n;
    const deadline = performance.now() + 30_000;
    while (outcomes.length < target) {
      if (performance.now() > deadline) throw new Error(`fewer than ${n} answers within 30 s`);
      await Bun.sleep(20);
    }
  };
  try {
    await answered(200);
    killedAt = performance.now();
    await cluster.restartHead();
    const again = await cluster.until("where RUNNING with 3 replicas again", (s) => {
      const d = s.applications.where?.deployments.Where;
      return s.applications.where?.status === "RUNNING" && d?.replicas.length === 3 && d.replicas.every((r) => r.state === "RUNNING");
    });
    back = true;
    expect(workerReplicas(again)).toEqual(kept);
    expect(again.nodes.w1?.status).toBe("ALIVE");
    expect(again.nodes.w2?.status).toBe("ALIVE");
    await answered(300);
  } finally {
    stopped = true;
    await Promise.all(clients);
  }
  const failed = outcomes.filter((o) => o.status !== 200);
  expect(failed.filter((o) => o.status === 0).map((o) => o.body)).toEqual([]);
  // At most the head's replica's slots (maxOngoingRequests 5) per calling proxy were in flight there.
  expect(failed.length).toBeLessThanOrEqual(10);
  for (const o of failed) expect(`${o.status} ${o.body}`).toMatch(/^500 .*died/);
  expect(outcomes.filter((o) => o.after && o.status !== 200).map((o) => `${o.status} ${o.body}`)).toEqual([]);
}, 90_000);
