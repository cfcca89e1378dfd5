// Issue 3: items per second through a handle stream (worker -> main; worker -> worker -> main)
// and chunks per second over HTTP, each against the raw floor of the same run.
import type { Application, DeploymentHandle } from "tsserve";
import { httpChunksApp, itemsApp, relayApp } from "../apps/stream.ts";
import { runBounded } from "../load.ts";
import type { Row } from "../report.ts";
import type { BenchCase } from "./index.ts";
import { withServe } from "./serve.ts";

async function itemsPerSecond(app: Application, n: number): Promise<number> {
  return withServe(app, async (_url, handle: DeploymentHandle) => {
    const s = handle.options({ stream: true });
    for await (const _ of s.remote(10_000)); // warm-up
    const t0 = Bun.nanoseconds();
    let count = 0;
    for await (const _ of s.remote(n)) count++;
    if (count !== n) throw new Error(`stream bench: expected ${n} items, got ${count}`);
    return n / ((Bun.nanoseconds() - t0) / 1e9);
  });
}

async function httpChunksPerSecond(durationS: number): Promise<number> {
  return withServe(httpChunksApp, async (url) => {
    const script = new URL("../streamclient.ts", import.meta.url).pathname;
    const r = await runBounded([process.execPath, script, `${url}?ms=${durationS * 1000}`], (durationS + 15) * 1000);
    if (r.code !== 0 || r.timedOut) throw new Error(`stream client failed (exit ${r.code}):\n${r.stderr}`);
    const read = JSON.parse(r.stdout.trim()) as { bytes: number; seconds: number };
    return read.bytes / 16 / read.seconds;
  });
}

export const streaming: BenchCase = {
  name: "streams through tsserve",
  async run(ctx) {
    const n = ctx.quick ? 500_000 : 2_000_000;
    const one = await itemsPerSecond(itemsApp, n);
    const two = await itemsPerSecond(relayApp, n);
    const http = await httpChunksPerSecond(ctx.quick ? 1 : 2);
    const f = ctx.streamFloors;
    return [
      { name: "stream: handle, worker -> main", value: one, unit: "items/s", ratioTo: f?.port, targetValue: 1_000_000 },
      { name: "stream: handle, worker -> worker -> main", value: two, unit: "items/s", ratioTo: f?.port },
      { name: "stream: tsserve HTTP, 16 B chunks", value: http, unit: "chunks/s", ratioTo: f?.http, target: f?.http ? 0.5 : undefined },
    ];
  },
};
