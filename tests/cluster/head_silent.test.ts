/**
 * A head that goes silent without restarting (its process frozen: SIGSTOP; to NATS it is still
 * connected): the worker nodes notice within the 5 s that make any node dead, also one that has
 * never heard the head's heartbeat (it went silent a moment after the worker joined). A request
 * that was at the head's replica fails (500, naming the silence), the requests at the workers'
 * replicas go on, and new requests through a worker's proxy go to the workers' replicas only.
 */
import { afterAll, expect, test } from "bun:test";
import { cleanup } from "../cli/helpers.ts";
import { Cluster, getJson, type Node, startCluster } from "./cluster.ts";
import { startLossyProxy } from "./lossy_proxy.ts";

afterAll(cleanup);

/**
 * One replica of Where on each node, one request at a time: three slow requests through `via`'s
 * proxy take one replica each. The head is frozen; returns the three outcomes, sorted.
 */
async function freezeHeadUnderSlowRequests(cluster: Cluster, via: Node): Promise<string[]> {
  const s = await cluster.deployRunning({ name: "where", app: "where", deployments: [{ name: "Where", numReplicas: 3, maxReplicasPerNode: 1, maxOngoingRequests: 1 }] });
  expect(Cluster.nodesOf(s, "where", "Where").sort()).toEqual(["head", "w1", "w2"]);
  const slow = Array.from({ length: 3 }, () =>
    fetch(`${via.http}/where/?ms=8000`, { signal: AbortSignal.timeout(60_000) }).then(
      async (res) => `${res.status} ${await res.text()}`,
      (e: Error) => `0 ${String(e)}`,
    ),
  );
  // All three are under way once status shows each replica with its one request.
  await cluster.until("a request at each replica", (st) => st.applications.where!.deployments.Where!.replicas.every((r) => r.ongoingRequests === 1));
  // Frozen to the end: disposing of the cluster kills it.
  cluster.head.proc.proc.kill("SIGSTOP");
  return (await Promise.all(slow)).sort();
}

/** The two at the workers' replicas answered from w1 and w2; the one at the head's failed with `why`. */
function expectHeadGivenUp(cluster: Cluster, outcomes: string[], why: RegExp): void {
  expect(outcomes[0]).toMatch(/^200 /);
  expect(outcomes[1]).toMatch(/^200 /);
  expect(outcomes[2]).toMatch(/^500 The replica serving request \S+ died before it answered: /);
  expect(outcomes[2]).toMatch(why);
  expect(outcomes.slice(0, 2).map((o) => cluster.nodeOfPid(JSON.parse(o.slice(4)).pid)).sort()).toEqual(["w1", "w2"]);
}

/** New requests through `via`'s proxy go to the workers' replicas only. */
async function expectHeadAvoided(cluster: Cluster, via: Node): Promise<void> {
  const nodes = new Set<string>();
  for (let i = 0; i < 20; i++) nodes.add(cluster.nodeOfPid((await getJson<{ pid: number }>(`${via.http}/where/`)).pid));
  expect([...nodes].every((n) => n === "w1" || n === "w2")).toBe(true);
}

test("a head frozen (SIGSTOP) is given up by the worker nodes: the request at its replica fails, the others go on, new ones avoid it", async () => {
  await using cluster = await startCluster(2);
  const w1 = cluster.workers.find((w) => w.id === "w1")!;
  const outcomes = await freezeHeadUnderSlowRequests(cluster, w1);
  // w1 names the head if a heartbeat of it arrived before it froze (the next test makes sure none does).
  expectHeadGivenUp(cluster, outcomes, /(the head \(node head\) has not been heard from for 5 s|node head has not been heard from in the 5 s since node w1 joined)$/);
  await expectHeadAvoided(cluster, w1);
}, 90_000);

test("a worker node that never heard the head's heartbeat gives up a frozen head all the same", async () => {
  await using cluster = await startCluster(0);
  // w1 reaches NATS through a proxy that loses every heartbeat of the head (they alone carry headSince).
  await using proxy = await startLossyProxy(cluster.nats.port);
  proxy.drop(/^tsserve\.ctl\.hb$/, { payload: "headSince", times: Infinity });
  const w1 = await cluster.addWorker("w1", proxy.url);
  await cluster.addWorker("w2");
  const outcomes = await freezeHeadUnderSlowRequests(cluster, w1);
  // (The head may freeze before it beats even once after w1 joined: the proxy then drops nothing, and w1 still never heard it.)
  expectHeadGivenUp(cluster, outcomes, /node head has not been heard from in the 5 s since node w1 joined$/);
  await expectHeadAvoided(cluster, w1);
}, 90_000);
