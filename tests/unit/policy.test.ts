/** The router's choice of replica (runtime/router/policy.ts), alone: locality, model affinity, spread. */
import { expect, test } from "bun:test";
import { type Candidate, pickForModel, pickReplica } from "../../runtime/router/policy.ts";

type Named = Candidate & { id: string };
const replica = (id: string, o: Partial<Candidate> = {}): Named => ({ id, inFlight: 0, dead: false, models: new Set(), ...o });
/** How many of `n` picks went to each replica. */
function tally(n: number, pick: () => Named | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = pick()?.id ?? "none";
    out[id] = (out[id] ?? 0) + 1;
  }
  return out;
}

test("a call prefers a replica on its own node while one there has room, then a remote one", () => {
  const local = replica("local", { inFlight: 4 });
  const remotes = [replica("r1", { remote: true }), replica("r2", { remote: true })];
  expect(tally(200, () => pickReplica([...remotes, local], 5))).toEqual({ local: 200 });
  local.inFlight = 5;
  const spill = tally(200, () => pickReplica([...remotes, local], 5));
  expect(Object.keys(spill).sort()).toEqual(["r1", "r2"]);
});

test("a model id goes to the replica holding the model, even on another node", () => {
  const rs = [replica("local"), replica("holder", { remote: true, models: new Set(["m"]) }), replica("other", { remote: true })];
  expect(tally(100, () => pickForModel(rs, 5, "m"))).toEqual({ holder: 100 });
});

test("a model no replica holds goes to one with the fewest models, on this node first", () => {
  const rs = [replica("busyModels", { models: new Set(["a", "b"]) }), replica("remoteEmpty", { remote: true }), replica("localEmpty")];
  expect(tally(100, () => pickForModel(rs, 5, "m"))).toEqual({ localEmpty: 100 });
});

test("a deployment that holds no models spreads model-id requests, local first, as any other call", () => {
  // An ingress that passes a model id on: its replicas hold none, so locality and spread decide.
  const remoteOnly = [replica("a", { remote: true }), replica("b", { remote: true }), replica("c", { remote: true })];
  const spread = tally(300, () => pickForModel(remoteOnly, 5, "m"));
  expect(Object.keys(spread).sort()).toEqual(["a", "b", "c"]);
  const withLocal = [...remoteOnly, replica("here")];
  expect(tally(100, () => pickForModel(withLocal, 5, "m"))).toEqual({ here: 100 });
});

test("no replica with room: undefined (the request queues)", () => {
  const rs = [replica("a", { inFlight: 5, models: new Set(["m"]) }), replica("b", { dead: true })];
  expect(pickForModel(rs, 5, "m")).toBeUndefined();
  expect(pickReplica(rs, 5)).toBeUndefined();
});
