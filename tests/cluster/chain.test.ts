// Chaining across nodes: the upstream replica sends the call on to a replica the caller picked,
// which may be on another node and must answer the caller over a port the caller may never have
// used (protocol.ts, rule 6: the caller's `Open`). A head and a worker node on a nats-server of
// their own, two replicas of each deployment, requests through both nodes' proxies.
import { expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../harness.ts";
import { startNats } from "./nats_server.ts";

const root = new URL("../..", import.meta.url).pathname;
const token = "cluster-chain-token-0123456789";

function startNode(children: ChildProcess[], args: string[]): Promise<{ http: string; admin?: string }> {
  const env = { ...process.env, TSSERVE_TOKEN: token, TSSERVE_ACCESS_LOG: "0" };
  const child = spawn(process.execPath, [`${root}cmd/tsserve.ts`, "start", ...args, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"], env, cwd: mkdtempSync(join(tmpdir(), "tsserve-chain-")) });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`a node did not start within 30 s:\n${out}`)), 30_000);
    const look = (b: Buffer) => {
      out += b.toString();
      const http = /HTTP proxy at \S*?(http:\/\/[\d.:]+)/.exec(out)?.[1];
      const admin = /Admin API at \S*?(http:\/\/[\d.:]+)/.exec(out)?.[1];
      if (http && (admin || !args.includes("--head"))) {
        clearTimeout(timer);
        resolve({ http, ...(admin && { admin }) });
      }
    };
    child.stdout!.on("data", look);
    child.stderr!.on("data", look);
  });
}

const api = (admin: string, method = "GET", body?: string) =>
  fetch(`${admin}/api/serve/applications/`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, ...(body && { body }) });

test("chained calls across two nodes: 1,200 requests from 32 clients through both proxies all answer (x + 1) * 2", async () => {
  const children: ChildProcess[] = [];
  try {
    await using nats = await startNats();
    const head = await startNode(children, ["--head", "--cluster", nats.url, "--node-id", "n0", "--admin-port", "0"]);
    const worker = await startNode(children, ["--cluster", nats.url, "--node-id", "n1"]);
    await eventually(async () => Object.values(((await (await api(head.admin!)).json()) as { nodes?: Record<string, { status: string }> }).nodes ?? {}).filter((n) => n.status === "ALIVE").length === 2, 20_000, 100);
    const put = await api(head.admin!, "PUT", JSON.stringify({ applications: [{ name: "chain", routePrefix: "/", importPath: `${root}tests/fixtures/cluster_chain.ts:app` }] }));
    expect(put.status).toBeLessThan(300);
    const status = await eventually(async () => {
      const s = (await (await api(head.admin!)).json()) as any;
      return s.applications?.chain?.status === "RUNNING" ? s : undefined;
    }, 30_000, 100);
    const nodeOf = (d: string): string => status.applications.chain.deployments[d].replicas[0].node;
    // The multiplier answers the ingress from the other node, on a port the ingress never used before.
    expect(nodeOf("Multiplier")).not.toBe(nodeOf("Ingress"));
    const proxies = [head.http, worker.http];
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
    for (const c of children) c.kill("SIGKILL");
  }
}, 120_000);
