// The seeds' chain under load (it once wedged for good at 16 HTTP clients): every request of
// thousands, from dozens of concurrent callers, over HTTP and over handles, answers right.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { serve } from "tsserve";
import { startServe, type Served } from "../harness.ts";
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
