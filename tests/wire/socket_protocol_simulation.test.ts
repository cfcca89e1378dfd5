// The WebSocket relay under every message order: the caller's end (runtime/wire/socket.ts) and a
// real replica's (runtime/replica/{websocket,generator_socket}.ts) joined by the simulated ports of
// tests/wire/sim.ts, with the client's events (frames in bursts, a slow socket, a late open, its
// close), the ingress's (reads, yields, a busy spell, its return or throw) and the replica's death
// interleaved in seeded random orders. Checked after each schedule, for every socket: every frame
// arrives once, in order, before the close, both ways (all of them when nothing died, a prefix
// when the other side closed first); the client hears one close, and nothing after it; the
// upgrade is answered once. A failure prints its seed; replay it with
// SOCKET_SIM_SEED=<seed> npx bun test tests/wire/socket_protocol_simulation.test.ts
import { expect, test } from "bun:test";
import type { Frame } from "../../runtime/wire/protocol.ts";
import { type ClientSocket, OutgoingSocket } from "../../runtime/wire/socket.ts";
import { Sim } from "./sim.ts";

/** What the ingress does: echo what it reads; the same after a busy spell; or talk on its own (reading now and then) and return or throw. */
type Plan = "echo" | "busy" | "talker" | "thrower";

/** One socket's story, as both ends saw it. */
interface Watch {
  plan: Plan;
  /** Frames the talker yields before it ends. */
  k: number;
  /** Client frames handed to the caller's socket (`fromClient`), in order. */
  sent: string[];
  /** What the ingress read from `messages`, and whether `messages` ended. */
  read: string[];
  inputDone: boolean;
  /** What the ingress yielded, in order. */
  yielded: string[];
  /** What the client's socket was given: frames, then its close. */
  heard: string[];
  close: { code: number; reason: string } | undefined;
  /** Something reached the client after its close, or it was closed twice. */
  afterClose: boolean;
  answers: number;
  accepted: boolean;
  attached: boolean;
  /** The client closed first (by its own choice: the model stops acting once it heard a close). */
  clientClosed: boolean;
  blocked: boolean;
  paused: boolean;
  ends: number;
}

const PLANS: Plan[] = ["echo", "busy", "talker", "thrower"];

/** The ingress: one generator per socket, told which watch is its own by `?s=`. */
function ingress(sim: Sim, watches: Watch[]) {
  return {
    async *websocket(messages: AsyncIterable<string | Uint8Array>, request: Request) {
      const w = watches[Number(new URL(request.url).searchParams.get("s"))]!;
      const it = messages[Symbol.asyncIterator]();
      const read = async (): Promise<string | undefined> => {
        const r = await it.next();
        if (r.done) {
          w.inputDone = true;
          return undefined;
        }
        w.read.push(r.value as string);
        return r.value as string;
      };
      const say = (v: string): string => (w.yielded.push(v), v);
      if (w.plan === "busy") await new Promise((resolve) => sim.later(() => resolve(undefined)));
      if (w.plan === "echo" || w.plan === "busy") {
        for (let m = await read(); m !== undefined; m = await read()) yield say(`e${m}`);
        return;
      }
      for (let i = 0; i < w.k; i++) {
        yield say(`s${i}`);
        if (sim.random() < 0.05 && (await read()) === undefined) return;
      }
      if (w.plan === "thrower") throw new Error("the ingress failed on purpose");
    },
  };
}

/** The client of socket `n`: acts at steps of its own once its socket is attached, until it closed or heard a close. */
function client(sim: Sim, socket: OutgoingSocket, w: Watch): void {
  const budget = Math.floor(sim.random() * 700);
  const clientSocket: ClientSocket = {
    send(frames: Frame[]) {
      if (w.close) w.afterClose = true;
      for (const f of frames) w.heard.push(f as string);
      const took = sim.random() < 0.8;
      if (!took) w.blocked = true;
      return took;
    },
    close(code, reason) {
      if (w.close) w.afterClose = true;
      w.close = { code, reason };
    },
    pause: () => void (w.paused = true),
    resume: () => void (w.paused = false),
  };
  const act = (): void => {
    if (w.close || w.clientClosed) return;
    sim.later(act);
    const r = sim.random();
    if (w.blocked && r < 0.3) {
      w.blocked = false;
      return socket.drained();
    }
    // A paused socket reads nothing from its client (TCP holds it), its close included.
    if (w.paused) return;
    if (w.sent.length < budget && r < 0.8) {
      const burst = r < 0.1 ? 100 : 1 + Math.floor(sim.random() * 4);
      for (let i = 0; i < burst && w.sent.length < budget; i++) {
        const m = String(w.sent.length);
        w.sent.push(m);
        socket.fromClient(m);
      }
      return;
    }
    if (w.sent.length >= budget || r > 0.97) {
      w.clientClosed = true;
      socket.clientClosed(4000, "bye");
    }
  };
  const attach = () => {
    w.attached = true;
    socket.attach(clientSocket);
    sim.later(act);
  };
  socket.onAnswer = (a) => {
    w.answers++;
    if (!a.accepted) return;
    w.accepted = true;
    socket.onEnd = () => void w.ends++;
    // Bun opens the client's socket as the upgrade is answered; a listener may open it later.
    if (sim.random() < 0.5) attach();
    else sim.later(attach);
  };
}

const isPrefix = (a: string[], of: string[]): boolean => a.length <= of.length && a.every((x, i) => x === of[i]);

/** One schedule: two or three sockets to one replica, perhaps its death; returns a summary (for the replay test). */
async function schedule(seed: number): Promise<string> {
  const sim = new Sim(seed);
  const watches: Watch[] = [];
  const proxy = sim.thread("proxy");
  sim.replica("r1", "Chat", ingress(sim, watches));
  const router = proxy.router(sim.target("Chat"), "proxy");
  const n = 2 + Math.floor(sim.random() * 2);
  for (let s = 0; s < n; s++) {
    const w: Watch = {
      plan: sim.pick(PLANS),
      k: Math.floor(sim.random() * 700),
      sent: [],
      read: [],
      inputDone: false,
      yielded: [],
      heard: [],
      close: undefined,
      afterClose: false,
      answers: 0,
      accepted: false,
      attached: false,
      clientClosed: false,
      blocked: false,
      paused: false,
      ends: 0,
    };
    watches.push(w);
    const socket = new OutgoingSocket(router, { method: "GET", url: `http://127.0.0.1/?s=${s}`, headers: {}, body: null }, { requestId: `s${s}` });
    client(sim, socket, w);
    socket.start();
  }
  let died = false;
  if (sim.random() < 0.25) {
    const death = () => {
      if (watches.every((w) => w.close || w.clientClosed)) return;
      if (sim.random() < 0.05) {
        died = true;
        sim.kill("r1");
      } else sim.later(death);
    };
    sim.later(death);
  }
  await sim.run();

  const at = `seed ${seed} (${sim.steps} steps${died ? ", replica died" : ""})`;
  for (const [s, w] of watches.entries()) {
    const where = `${at}, socket ${s} (${w.plan}, ${w.sent.length} sent, ${w.read.length} read, ${w.yielded.length} yielded, ${w.heard.length} heard${w.clientClosed ? ", the client closed" : ""})`;
    // A replica that dies before its link is up leaves the socket queued for the next (none here).
    if (died) expect(w.answers, where).toBeLessThanOrEqual(1);
    else expect([w.answers, w.accepted], where).toEqual([1, true]);
    if (!w.accepted) continue;
    expect(w.ends, where).toBe(1);
    expect(w.attached, where).toBe(true);
    expect(w.afterClose, where).toBe(false);
    // Once, in order, both ways: what arrived is the start of what was sent.
    expect(isPrefix(w.heard, w.yielded), where).toBe(true);
    expect(isPrefix(w.read, w.sent), where).toBe(true);
    // The client closed first: it hears no close; otherwise it always hears one.
    if (w.clientClosed) expect(w.close, where).toBeUndefined();
    else expect(w.close, where).toBeDefined();
    if (died) continue;
    if (w.clientClosed && (w.plan === "echo" || w.plan === "busy")) {
      // Every frame the client sent before its close reached `messages`, which then ended.
      expect(w.read, where).toEqual(w.sent);
      expect(w.inputDone, where).toBe(true);
    }
    if (!w.clientClosed) {
      // The ingress ended the socket: every frame it yielded reached the client, then its close.
      expect(w.heard, where).toEqual(w.yielded);
      expect(w.close, where).toEqual(w.plan === "thrower" ? { code: 1011, reason: "Internal Server Error" } : { code: 1000, reason: "" });
    }
  }
  return `${at}: ${watches.map((w) => `${w.plan} ${w.sent.length}/${w.read.length}/${w.yielded.length}/${w.heard.length}/${w.close?.code ?? "-"}`).join(", ")}`;
}

const SCHEDULES = 400;
const only = process.env.SOCKET_SIM_SEED;

/** Runs `f` with the ingress's own failure lines (the thrower's, logged with their stack) kept out of the test output. */
async function quietly<T>(f: () => Promise<T>): Promise<T> {
  const error = console.error;
  console.error = (...args: unknown[]) => {
    if (!String(args[0]).includes("failed on purpose")) error(...args);
  };
  try {
    return await f();
  } finally {
    console.error = error;
  }
}

test(`relayed sockets deliver every frame once, in order, before the close, in ${only ? "seed " + only : SCHEDULES + " random message orders"}`, async () => {
  const base = only ? Number(only) : (Date.now() % 1_000_000) * 1000;
  const seeds = only ? [base] : Array.from({ length: SCHEDULES }, (_, i) => base + i);
  await quietly(async () => {
    for (const seed of seeds) await schedule(seed);
  });
  expect(seeds.length).toBeGreaterThan(0);
}, 120_000);

test("a socket schedule replays: the same seed, the same steps and outcomes", async () => {
  await quietly(async () => {
    const first = await schedule(20261207);
    expect(await schedule(20261207)).toBe(first);
    expect(await schedule(20261208)).not.toBe(first);
  });
});
