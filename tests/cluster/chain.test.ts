// Chaining across nodes: the upstream replica sends the call on to a replica the caller picked,
// which may be on another node and must answer the caller over a port the caller may never have
// used (protocol.ts, rule 6: the caller's `Open`). A head and a worker node on a nats-server of
// their own, two replicas of each deployment, requests through both nodes' proxies.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { eventually } from "../harness.ts";
import { cleanup, repo } from "../cli/helpers.ts";
import { startCluster } from "./cluster.ts";

test("chained calls across two nodes: 1,200 requests from 32 clients through both proxies all answer (x + 1) * 2", async () => {
  try {
    await using cluster = await startCluster(1);
    const errors = await cluster.apply({ applications: [{ name: "chain", routePrefix: "/", importPath: `${join(repo, "tests/fixtures/cluster_chain.ts")}:app` }] });
    expect(errors).toEqual({});
    const status = await cluster.until("chain RUNNING", (s) => s.applications.chain?.status === "RUNNING");
    const nodeOf = (d: string): string => status.applications.chain!.deployments[d]!.replicas[0]!.node!;
    // The multiplier answers the ingress from the other node, on a port the ingress never used before.
    expect(nodeOf("Multiplier")).not.toBe(nodeOf("Ingress"));
    const proxies = cluster.nodes.map((n) => n.http);
    for (const p of proxies) await eventually(async () => (await fetch(`${p}/?x=1`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined))?.status === 200, 30_000, 50);
    const wrong: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        // The first wrong answer ends the run: hanging requests would outlast the test, and its nodes with it.
        while (next < 1200 && wrong.length === 0) {
          const x = next++;
          const res = await fetch(`${proxies[x % 2]}/?x=${x}`, { signal: AbortSignal.timeout(10_000) }).catch((err: Error) => err);
          const got = res instanceof Error ? `${res.name}` : `${res.status} ${await res.text()}`;
          if (got !== `200 ${(x + 1) * 2}`) wrong.push(`${x} -> ${got}`);
        }
      }),
    );
    expect(wrong).toEqual([]);
  } finally {
    await cleanup();
  }
}, 120_000);
