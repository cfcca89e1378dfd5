// The raw NATS floor the cluster bench compares with: a positive rate against a real server,
// and a clear error when the responder cannot reach NATS.
import { expect, test } from "bun:test";
import { natsFloor } from "../../bench/cluster/floor.ts";
import { startNats } from "./nats_server.ts";

test("natsFloor measures request/reply with a responder in another process", async () => {
  await using nats = await startNats();
  const { perSecond } = await natsFloor(nats.url, { inFlight: 32, bytes: 128, durationMs: 500 });
  expect(perSecond).toBeGreaterThan(0);
  expect(Number.isFinite(perSecond)).toBe(true);
});

test("natsFloor says why when the responder cannot connect", async () => {
  await using nats = await startNats();
  const url = nats.url;
  await nats.stop();
  await expect(natsFloor(url, { inFlight: 1, bytes: 1, durationMs: 100 })).rejects.toThrow(/the NATS floor's responder .* exited before it was ready/);
  await expect(natsFloor(url, { inFlight: 0, bytes: 1, durationMs: 100 })).rejects.toThrow("inFlight must be an integer >= 1, got 0");
});
