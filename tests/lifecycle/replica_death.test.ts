// Every way a replica can die (API.md section 10): its in-flight call fails with
// ReplicaDiedError, it is replaced, and the server keeps serving. On Deno this rests on the
// replica reporting its own death and on the heartbeat (runtime/platform/deno/worker.ts); on
// Bun on the Worker's error and close events.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe, type Served } from "../harness.ts";
import { mortalApp } from "../fixtures/dying.ts";

const onDeno = "Deno" in globalThis;

let s: Served;
beforeAll(async () => {
  s = await startServe();
});
afterAll(() => s[Symbol.asyncDispose]());

const deploy = () => serve.run(mortalApp, { name: "mortal", routePrefix: "/mortal" });
type Handle = Awaited<ReturnType<typeof deploy>>;

const running = async () => (await serve.status()).applications.mortal?.deployments.Mortal?.replicaStates.RUNNING ?? 0;

/** Both replica ids, by calling until two answer. */
async function replicaIds(h: Handle): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let i = 0; i < 60 && ids.size < 2; i++) ids.add(String(await h.whoAmI.remote()));
  return ids;
}

async function dies(h: Handle, kill: (h: Handle) => PromiseLike<unknown>): Promise<void> {
  const before = await replicaIds(h);
  expect(before.size).toBe(2);
  const err = (await Promise.resolve(kill(h)).catch((e: Error) => e)) as Error;
  expect(err).toBeInstanceOf(Error);
  expect(err.name).toBe("ReplicaDiedError");
  // The other replica kept serving, a replacement came up, and HTTP still answers.
  await eventually(async () => (await running()) === 2, 20_000, 50);
  const after = await replicaIds(h);
  expect(after.size).toBe(2);
  expect([...after].filter((id) => !before.has(id)).length).toBe(1);
  const res = await fetch(`${s.url}/mortal`, { method: "POST" });
  expect(res.status).toBe(200);
  expect(after.has(await res.text())).toBe(true);
}

describe("a dying replica dies alone", () => {
  let h: Handle;
  beforeAll(async () => {
    h = await deploy();
  });

  test("process.exit()", () => dies(h, (h) => h.processExit.remote()));
  // Deno.exit exists only on Deno.
  test.if(onDeno)("Deno.exit()", () => dies(h, (h) => h.denoExit.remote()));
  test("an uncaught error outside any call", () => dies(h, (h) => h.uncaughtError.remote()));
  test("an unhandled rejection", () => dies(h, (h) => h.unhandledRejection.remote()));
  // Deno's heartbeat: 10 s of silence (its floor; healthCheckTimeoutMs is 5 s here), long before three failed
  // health checks (10 s apart). On Bun the health checks catch it, more
  // slowly (three failures in a row; tests/lifecycle/faults.test.ts).
  test.if(onDeno)("an event loop blocked for good: the heartbeat", () => dies(h, (h) => h.spin.remote()));
});

test("under load: 50 callers make 2,000 calls while replicas die five times; each call answers or fails with ReplicaDiedError", async () => {
  const h = await serve.run(mortalApp, { name: "mortal-load", routePrefix: null });
  const runningHere = async () => (await serve.status()).applications["mortal-load"]?.deployments.Mortal?.replicaStates.RUNNING ?? 0;
  const outcomes = { answered: 0, died: 0, other: [] as string[] };
  const callers = Array.from({ length: 50 }, async () => {
    for (let i = 0; i < 40; i++) {
      try {
        await h.whoAmI.remote();
        outcomes.answered++;
      } catch (e) {
        if ((e as Error).name === "ReplicaDiedError") outcomes.died++;
        else outcomes.other.push(`${(e as Error).name}: ${(e as Error).message}`);
      }
    }
  });
  const kills = (async () => {
    for (let k = 0; k < 5; k++) {
      const err = (await Promise.resolve(h.uncaughtError.remote()).catch((e: Error) => e)) as Error;
      expect(err.name).toBe("ReplicaDiedError");
      await eventually(async () => (await runningHere()) === 2, 20_000, 50);
    }
  })();
  await Promise.all([kills, ...callers]);
  expect(outcomes.other).toEqual([]);
  expect(outcomes.answered + outcomes.died).toBe(2000);
  expect(outcomes.answered).toBeGreaterThan(1000);
  expect(await h.whoAmI.remote()).toContain("mortal-load#Mortal#");
  await serve.delete("mortal-load");
});
