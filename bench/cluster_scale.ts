// `npm run bench:cluster-scale`: a cluster of 8 nodes on this machine (a head and 7 worker
// processes on a nats-server of their own) runs a deployment of 16 replicas, and checks that
// placement and routing stay even: 2 replicas per node; requests spread over every node's proxy
// reach every node alike; and requests through one proxy whose own replicas are full spill over
// the other nodes alike. Prints the counts and their spread (max/min); exits 1 if uneven.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNats } from "../tests/cluster/nats_server.ts";

const NODES = 8;
const REPLICAS = 16;
const REQUESTS = Number(process.env.REQUESTS ?? 8000);
const CONCURRENCY = 32;
const root = new URL("..", import.meta.url).pathname;
const token = "cluster-scale-token-0123456789";
const env = { ...process.env, TSSERVE_TOKEN: token, TSSERVE_ACCESS_LOG: "0" };
const children: ChildProcess[] = [];

function startNode(args: string[]): Promise<{ http: string; admin?: string }> {
  const child = spawn(process.execPath, [`${root}cmd/tsserve.ts`, "start", ...args, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"], env, cwd: mkdtempSync(join(tmpdir(), "tsserve-scale-")) });
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

/** `n` GETs spread over `urls` round-robin, CONCURRENCY at a time; the count of answers per replica id. */
async function spread(urls: string[], n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        const res = await fetch(urls[i % urls.length]!);
        const id = await res.text();
        if (res.status !== 200) throw new Error(`request ${i} answered ${res.status}: ${id}`);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    }),
  );
  return counts;
}

const spreadOf = (values: number[]) => Math.max(...values) / Math.max(1, Math.min(...values));

try {
  await using nats = await startNats();
  const t0 = performance.now();
  const head = await startNode(["--head", "--cluster", nats.url, "--node-id", "n0", "--admin-port", "0"]);
  const workers = await Promise.all(Array.from({ length: NODES - 1 }, (_, i) => startNode(["--cluster", nats.url, "--node-id", `n${i + 1}`])));
  const proxies = [head.http, ...workers.map((w) => w.http)];
  for (;;) {
    const s = (await (await api(head.admin!)).json()) as { nodes?: Record<string, { status: string }> };
    if (Object.values(s.nodes ?? {}).filter((n) => n.status === "ALIVE").length === NODES) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const put = await api(head.admin!, "PUT", JSON.stringify({ applications: [{ name: "who", routePrefix: "/", importPath: `${root}bench/apps/who.ts:app` }] }));
  if (!put.ok) throw new Error(`deploy: ${put.status} ${await put.text()}`);
  let status: any;
  for (;;) {
    status = await (await api(head.admin!)).json();
    if (status.applications?.who?.status === "RUNNING") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const started = performance.now() - t0;
  const nodeOf = new Map<string, string>();
  for (const r of status.applications.who.deployments.Who.replicas) nodeOf.set(r.replicaId, r.node);
  const perNode = new Map<string, number>();
  for (const n of nodeOf.values()) perNode.set(n, (perNode.get(n) ?? 0) + 1);
  // Every proxy knows the route once the head has sent it: wait for each to answer.
  for (const p of proxies) while ((await fetch(p)).status !== 200) await new Promise((r) => setTimeout(r, 50));

  const byNode = (counts: Map<string, number>) => {
    const out = new Map<string, number>();
    for (const [id, n] of counts) out.set(nodeOf.get(id)!, (out.get(nodeOf.get(id)!) ?? 0) + n);
    return out;
  };
  const t1 = performance.now();
  const all = byNode(await spread(proxies, REQUESTS));
  const allS = (performance.now() - t1) / 1000;
  const one = byNode(await spread([head.http], REQUESTS));
  const spill = [...one].filter(([n]) => n !== "n0").map(([, c]) => c);

  console.log(`${NODES} nodes up and ${REPLICAS} replicas running in ${(started / 1000).toFixed(1)} s`);
  console.log(`replicas per node: ${[...perNode].sort().map(([n, c]) => `${n}=${c}`).join(" ")}`);
  console.log(`requests over every proxy (${REQUESTS}, ${(REQUESTS / allS).toFixed(0)} req/s): ${[...all].sort().map(([n, c]) => `${n}=${c}`).join(" ")}  spread ${spreadOf([...all.values()]).toFixed(2)}`);
  console.log(`requests through n0's proxy only: n0=${one.get("n0") ?? 0}, the others ${spill.join(" ")}  spread over the others ${spreadOf(spill).toFixed(2)}`);
  const even = [...perNode.values()].every((c) => c === REPLICAS / NODES) && perNode.size === NODES && spreadOf([...all.values()]) < 1.5 && spill.length === NODES - 1 && spreadOf(spill) < 1.5;
  console.log(even ? "even: yes" : "even: NO");
  process.exitCode = even ? 0 : 1;
} finally {
  for (const c of children) c.kill("SIGKILL");
}
