// The seeds' chain under load (it once wedged for good at 16 HTTP clients): every request of
// thousands, from dozens of concurrent callers, over HTTP and over handles, answers right.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { awaited, chained } from "../fixtures/chain_load.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

/** `clients` loops, each sending its share of `total` requests one after another; the wrong answers. */
async function hammer(total: number, clients: number, send: (x: number) => Promise<number>): Promise<string[]> {
  const wrong: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const x = next++;
        const got = await send(x).catch((err: Error) => `${err.name}: ${err.message}`);
        if (got !== (x + 1) * 2) wrong.push(`${x} -> ${got}`);
      }
    }),
  );
  return wrong;
}

for (const [kind, app] of [["chained", chained], ["awaited", awaited]] as const) {
  test(`HTTP, ${kind}: 3,000 requests from 32 concurrent clients all answer (x + 1) * 2`, async () => {
    await serve.run(app, { name: `load-http-${kind}`, routePrefix: `/${kind}` });
    try {
      const wrong = await hammer(3000, 32, async (x) => {
        const res = await fetch(`${served.url}/${kind}?x=${x}`);
        return res.status === 200 ? Number(await res.text()) : Promise.reject(new Error(`${res.status} ${await res.text()}`));
      });
      expect(wrong).toEqual([]);
    } finally {
      await serve.delete(`load-http-${kind}`);
    }
  }, 60_000);
}

test("handles: 2,000 chained calls in flight at once, and again through the ingress", async () => {
  await using app = await deployed(chained, { name: "load-handles" });
  const multiplier = serve.getDeploymentHandle<typeof import("../fixtures/chain_load.ts").Multiplier>("Multiplier", "load-handles");
  const adder = serve.getDeploymentHandle<typeof import("../fixtures/chain_load.ts").Adder>("Adder", "load-handles");
  const direct = await Promise.all(Array.from({ length: 2000 }, (_, x) => multiplier.remote(adder.remote(x))));
  expect(direct.every((v, x) => v === (x + 1) * 2)).toBe(true);
  const viaIngress = await Promise.all(Array.from({ length: 2000 }, (_, x) => app.handle.remote(x)));
  expect(viaIngress.every((v, x) => v === (x + 1) * 2)).toBe(true);
}, 60_000);

test("handles: 2,000 chained calls, every third cancelled at some point on its way, end right and leave no replica busy", async () => {
  const name = "load-cancels";
  await using _ = await deployed(chained, { name });
  const multiplier = serve.getDeploymentHandle<typeof import("../fixtures/chain_load.ts").Multiplier>("Multiplier", name);
  const adder = serve.getDeploymentHandle<typeof import("../fixtures/chain_load.ts").Adder>("Adder", name);
  const round = () =>
    Promise.all(
      Array.from({ length: 2000 }, async (_, x) => {
        const product = multiplier.remote(adder.remote(x));
        // At once (still in this tick's batch), a tick later, or a few ms later (its call may be on the downstream replica).
        if (x % 3 === 0) {
          if (x % 9 === 0) product.cancel();
          else setTimeout(() => product.cancel(), x % 9 === 3 ? 0 : x % 4);
        }
        return product.then(
          (v) => (v === (x + 1) * 2 ? "ok" : `${x} -> ${v}`),
          (err: Error) => (x % 3 === 0 && err.name === "RequestCancelledError" ? "cancelled" : `${x} -> ${err.name}: ${err.message}`),
        );
      }),
    );
  const outcomes = await round();
  expect(outcomes.filter((o) => o !== "ok" && o !== "cancelled")).toEqual([]);
  expect(outcomes.filter((o) => o === "cancelled").length).toBeGreaterThan(0);
  // Every cancelled call freed its slot: the replicas go idle, and a second round runs in full.
  await eventually(async () => {
    const deployments = (await serve.status()).applications[name]!.deployments;
    return Object.values(deployments).every((d) => d.replicas.every((r) => r.ongoingRequests === 0));
  }, 10_000);
  const again = await round();
  expect(again.filter((o) => o !== "ok" && o !== "cancelled")).toEqual([]);
}, 60_000);
