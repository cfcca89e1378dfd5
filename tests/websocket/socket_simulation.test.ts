// The caller's side of a relayed socket (wire/socket.ts) against a model replica, with the two
// directions of the port, the client's events, timeouts and the replica's death interleaved in
// seeded random orders. Checked after every schedule: the upgrade is answered at most once,
// the socket ends exactly once if it opened (so counts balance), its request slot is released
// exactly once, its receiver goes away, nothing is sent for it after its own close, and the
// client's socket is closed once whenever the replica ended it. WS_SIM_SEED replays one seed.
import { expect, test } from "bun:test";
import { Router } from "../../runtime/router/router.ts";
import type { Receiver } from "../../runtime/wire/link.ts";
import { K, type ToCaller, type ToReplica } from "../../runtime/wire/protocol.ts";
import { type ClientSocket, OutgoingSocket } from "../../runtime/wire/socket.ts";
import { rng } from "../random.ts";


function schedule(seed: number): void {
  const random = rng(seed);
  const pick = <T,>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
  const toReplica: ToReplica[] = [];
  const toCaller: ToCaller[] = [];
  // A link as the router and the socket use it.
  const receivers = new Map<number, Receiver>();
  let released = 0;
  const link = {
    replicaId: "r",
    inFlight: 0,
    dead: false,
    models: new Set<string>(),
    request(msg: ToReplica, r: Receiver) {
      receivers.set(msg.id, r);
      toReplica.push(msg);
    },
    post(msg: ToReplica) {
      toReplica.push(msg);
    },
    release() {
      released++;
      link.inFlight--;
    },
    onFree: () => () => {},
  };
  const router = new Router("D");
  router.update([link as never], { maxOngoingRequests: 5, maxQueuedRequests: -1 });
  const socket = new OutgoingSocket(router, { method: "GET", url: "http://127.0.0.1/", headers: {}, body: null }, { requestId: "s" });
  let answers = 0;
  let accepted = false;
  let ends = 0;
  let client: ClientSocket | undefined;
  let clientCloses = 0;
  let clientClosedItself = false;
  let callerClosed = false;
  let postedAfterClose = false;
  socket.onAnswer = (a) => {
    answers++;
    if (!a.accepted) return;
    accepted = true;
    socket.onEnd = () => ends++;
  };
  // The model replica: refuses, fails, or accepts and then talks until it closes; echoes a close.
  const plan = pick(["refuse", "err", "accept", "accept", "accept"]);
  let replica = "new" as "new" | "open" | "closed";
  let died = false;

  const deliverToCaller = () => {
    const m = toCaller.shift()!;
    const r = receivers.get(m.id);
    if (r && r.receive(m)) receivers.delete(m.id);
  };
  const deliverToReplica = () => {
    const m = toReplica.shift()!;
    if (callerClosed && m.k !== K.SocketClose) postedAfterClose = true;
    if (m.k === K.SocketClose) callerClosed = true;
    if (m.k === K.SocketOpen) {
      if (plan === "refuse") return void toCaller.push({ k: K.SocketRefused, id: m.id, res: { status: 404, headers: {}, body: "no" } });
      if (plan === "err") return void toCaller.push({ k: K.Err, id: m.id, e: { name: "Error", message: "boom" } });
      replica = "open";
      return void toCaller.push({ k: K.SocketAccepted, id: m.id });
    }
    if (m.k === K.SocketClose && replica === "open") {
      replica = "closed";
      toCaller.push({ k: K.SocketClose, id: m.id, code: m.code, reason: m.reason });
    }
    if (m.k === K.SocketFrames && replica === "open") toCaller.push({ k: K.SocketCredit, id: m.id, n: m.v.length });
  };
  const actions: (() => boolean)[] = [
    () => toCaller.length > 0 && !died && (deliverToCaller(), true),
    () => toReplica.length > 0 && (deliverToReplica(), true),
    // The replica sends, or ends the socket itself.
    () => replica === "open" && !died && (toCaller.push({ k: K.SocketFrames, id: socket.id, v: ["x"] }), true),
    () => replica === "open" && !died && random() < 0.2 && ((replica = "closed"), toCaller.push({ k: K.SocketClose, id: socket.id, code: 1000, reason: "" }), true),
    // The upgrade completes (once accepted), and the client talks, drains, or closes.
    () => accepted && !client && !clientClosedItself && ((client = { send: () => random() < 0.7, close: () => void clientCloses++, pause() {}, resume() {} }), socket.attach(client), true),
    () => !!client && !clientClosedItself && (socket.fromClient("c"), true),
    () => !!client && (socket.drained(), true),
    () => !!client && !clientClosedItself && random() < 0.2 && ((clientClosedItself = true), socket.clientClosed(4000, "bye"), true),
    // Before an answer: the upgrade times out, or its client leaves.
    () => answers === 0 && random() < 0.05 && (socket.abandon(), true),
    // The replica dies: the link fails everything waiting on it.
    () =>
      !died &&
      random() < 0.03 &&
      ((died = true),
      toCaller.length = 0,
      [...receivers.values()].forEach((r) => r.fail(Object.assign(new Error("gone"), { name: "ReplicaDiedError" }))),
      receivers.clear(),
      true),
  ];
  socket.start();
  for (let step = 0; step < 10_000; step++) {
    if (!pick(actions)()) {
      // Nothing happened this step; stop once nothing can: queues empty and the socket over.
      if (toCaller.length === 0 && toReplica.length === 0 && (receivers.size === 0 || died) && step > 200) break;
    }
  }
  // Drain whatever is left, in order, so every message has been seen.
  while (toReplica.length || (toCaller.length && !died)) {
    if (toReplica.length) deliverToReplica();
    if (toCaller.length && !died) deliverToCaller();
  }
  const at = `seed ${seed} (plan ${plan}${died ? ", replica died" : ""})`;
  expect(answers, at).toBeLessThanOrEqual(1);
  // A dead link's count no longer matters (no router sends to it): as for calls and streams.
  if (!died) {
    expect(link.inFlight, at).toBe(0);
    expect(released, at).toBe(1);
  } else expect(released, at).toBeLessThanOrEqual(1);
  expect(ends, at).toBe(accepted ? 1 : 0);
  expect(postedAfterClose, at).toBe(false);
  if (!died) expect(receivers.size, at).toBe(0);
  expect(clientCloses, at).toBeLessThanOrEqual(1);
  // The replica ended an open client's socket (its close, or its death): the client heard it.
  if (client && !clientClosedItself && (died || replica === "closed")) expect(clientCloses, at).toBe(1);
}

test("the caller's socket state machine holds its invariants over 2,000 seeded schedules", () => {
  const one = process.env.WS_SIM_SEED;
  if (one) return schedule(Number(one));
  const base = Date.now() % 1e9;
  for (let i = 0; i < 2000; i++) schedule(base + i);
});
