/**
 * A worker node killed (`kill -9`) under load: only the requests in flight there fail
 * (ReplicaDiedError, HTTP 500), the head declares it DEAD after 5 s of silence, its replicas are
 * replaced on the live nodes, and every request after that succeeds.
 */
import { afterAll, expect, test } from "bun:test";
import { cleanup } from "../cli/helpers.ts";
import { Cluster, startCluster, type Status } from "./cluster.ts";

afterAll(cleanup);

/** The head declares a silent node dead after 5 s (runtime/cluster/heartbeat.ts); allow for a busy machine. */
const DEAD_WITHIN_MS = 15_000;
const REPLACED_WITHIN_MS = 10_000;

interface Outcome {
  startedAt: number;
  status: number;
  body: string;
  pid?: number;
}

test("kill -9 of a worker node under load: only its in-flight requests fail, it turns DEAD, its replicas are replaced, requests succeed again", async () => {
  await using cluster = await startCluster(2);
  // One Where on each node, at most 2 requests at once per caller, so load spills to every node.
  await cluster.deployRunning({ name: "where", app: "where", deployments: [{ name: "Where", numReplicas: 3, maxReplicasPerNode: 2, maxOngoingRequests: 2 }] });
  const before = await cluster.deployRunning({ name: "chain", app: "chain" });
  const victim = cluster.workers[1]!;
  expect(Cluster.nodesOf(before, "where", "Where").sort()).toEqual(["head", "w1", "w2"]);
  const chainOnVictim = ["Chain", "Adder", "Multiplier"].filter((d) => Cluster.nodesOf(before, "chain", d)[0] === victim.id);
  expect(chainOnVictim.length).toBe(1);

  // 24 clients on the survivors' proxies (the victim's own proxy dies with it).
  const proxies = [cluster.head.http, cluster.workers[0]!.http];
  const outcomes: Outcome[] = [];
  let stop = false;
  let seq = 0;
  const client = async () => {
    while (!stop) {
      const i = seq++;
      const startedAt = performance.now();
      const url = i % 2 ? `${proxies[i % 2]}/chain/?x=${i}` : `${proxies[(i >> 1) % 2]}/where/?ms=10`;
      const res = await fetch(url);
      const body = await res.text();
      const o: Outcome = { startedAt, status: res.status, body };
      if (res.status === 200) {
        const a = JSON.parse(body) as { value?: number; pid: number };
        if (i % 2 && a.value !== (i + 1) * 2) o.status = -1; // a wrong answer
        o.pid = a.pid;
      }
      outcomes.push(o);
    }
  };
  const load = Promise.all(Array.from({ length: 24 }, client));
  const waitOutcomes = async (what: string, ok: () => boolean, timeoutMs = 20_000) => {
    const deadline = performance.now() + timeoutMs;
    while (!ok()) {
      if (performance.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms (${outcomes.length} answers)`);
      await Bun.sleep(20);
    }
  };
  let dead: number, replaced: number, killedAt: number;
  let after: Status;
  try {
    // The load reaches the victim before it dies.
    await waitOutcomes("answer from the victim", () => outcomes.some((o) => o.pid === victim.pid) && outcomes.length >= 200);
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);

    killedAt = performance.now();
    victim.proc.proc.kill("SIGKILL");
    const deadStatus = await cluster.until(`${victim.id} DEAD`, (s) => s.nodes[victim.id]?.status === "DEAD", DEAD_WITHIN_MS);
    dead = performance.now();
    expect(deadStatus.nodes[victim.id]!.replicas).toBe(0);

    after = await cluster.until(
      "replacements RUNNING on the live nodes",
      (s) =>
        ["where/Where", "chain/Chain", "chain/Adder", "chain/Multiplier"].every((key) => {
          const [app, dep] = key.split("/") as [string, string];
          const d = s.applications[app]?.deployments[dep];
          return !!d && d.replicas.length === d.targetReplicas && d.replicas.every((r) => r.state === "RUNNING" && r.node !== victim.id);
        }),
      REPLACED_WITHIN_MS,
    );
    replaced = performance.now();
    const answered = outcomes.length;
    await waitOutcomes("1,000 answers after the replacements", () => outcomes.length >= answered + 1000);
  } finally {
    stop = true;
    await load;
  }
  const failed = outcomes.filter((o) => o.status !== 200);
  console.log(`kill -9 of ${victim.id}: DEAD after ${Math.round(dead - killedAt)} ms, replaced ${Math.round(replaced - killedAt)} ms after the kill; ${failed.length} of ${outcomes.length} requests failed`);

  expect(Cluster.nodesOf(after, "where", "Where").sort()).not.toContain(victim.id);
  expect(after.applications.where!.status).toBe("RUNNING");
  expect(after.applications.chain!.status).toBe("RUNNING");
  // Only requests sent before the head declared the node dead may fail, and only as in flight
  // on a dead replica: HTTP 500 naming the replica's death. None is a wrong answer.
  for (const o of failed) {
    expect(o.startedAt).toBeLessThan(dead);
    expect(o.startedAt).toBeGreaterThan(killedAt - 5000);
    expect(`${o.status} ${o.body}`).toMatch(/^500 The replica serving request \S+ died before it answered/);
  }
  // In flight at the victim: its Where (2 per caller), and the chain's calls that crossed it.
  expect(failed.length).toBeLessThanOrEqual(24);
  // After the replacements no answer comes from the dead node, and every one is right.
  const late = outcomes.filter((o) => o.startedAt > replaced);
  expect(late.length).toBeGreaterThanOrEqual(1000);
  expect(late.filter((o) => o.status !== 200)).toEqual([]);
  expect(late.filter((o) => o.pid === victim.pid)).toEqual([]);
}, 90_000);
