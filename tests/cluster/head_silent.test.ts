/**
 * A head that goes silent without restarting (its process frozen: SIGSTOP; to NATS it is still
 * connected): the worker nodes notice within the 5 s that make any node dead. A request that was
 * at the head's replica fails (500, the head not heard from), the requests at the workers'
 * replicas go on, and new requests through a worker's proxy go to the workers' replicas only.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cleanup } from "../cli/helpers.ts";
import { Cluster, getJson, startCluster } from "./cluster.ts";

/** The worker nodes give the head up after 5 s of silence (runtime/cluster/heartbeat.ts); allow for a busy machine. */
const NOTICED_WITHIN_MS = 20_000;

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster(2);
}, 60_000);

afterAll(async () => {
  await cluster?.[Symbol.asyncDispose]();
  await cleanup();
});

test("a head frozen (SIGSTOP) is given up by the worker nodes: the request at its replica fails, the others go on, new ones avoid it", async () => {
  // One replica on each node, one request at a time each: three slow requests from w1's proxy
  // take one replica each, one of them the head's.
  const s = await cluster.deployRunning({ name: "where", app: "where", deployments: [{ name: "Where", numReplicas: 3, maxReplicasPerNode: 1, maxOngoingRequests: 1 }] });
  expect(Cluster.nodesOf(s, "where", "Where").sort()).toEqual(["head", "w1", "w2"]);
  const w1 = cluster.workers[0]!;
  const slow = Array.from({ length: 3 }, () =>
    fetch(`${w1.http}/where/?ms=15000`, { signal: AbortSignal.timeout(60_000) }).then(
      async (res) => `${res.status} ${await res.text()}`,
      (e: Error) => `0 ${String(e)}`,
    ),
  );
  const head = cluster.head;
  try {
    // All three are under way once status shows each replica with its one request.
    await cluster.until("a request at each replica", (st) => st.applications.where!.deployments.Where!.replicas.every((r) => r.ongoingRequests === 1));
    head.proc.proc.kill("SIGSTOP");
    const outcomes = (await Promise.all(slow)).sort();
    // The two at the workers' replicas answer; the one at the head's fails, naming why.
    expect(outcomes[0]).toMatch(/^200 /);
    expect(outcomes[1]).toMatch(/^200 /);
    expect(outcomes[2]).toMatch(/^500 The replica serving request \S+ died before it answered: .*the head \(node head\) has not been heard from for 5 s/);
    expect(outcomes.slice(0, 2).map((o) => cluster.nodeOfPid(JSON.parse(o.slice(4)).pid)).sort()).toEqual(["w1", "w2"]);
    // New requests through w1's proxy go to the workers' replicas only.
    const pids = new Set<number>();
    for (let i = 0; i < 20; i++) pids.add((await getJson<{ pid: number }>(`${w1.http}/where/`)).pid);
    expect([...pids].map((p) => cluster.nodeOfPid(p)).every((n) => n === "w1" || n === "w2")).toBe(true);
  } finally {
    head.proc.proc.kill("SIGCONT");
  }
}, 90_000);
