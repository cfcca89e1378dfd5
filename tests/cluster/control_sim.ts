/**
 * A deterministic simulation of the cluster's control protocol: the real ClusterHead (with a
 * real Controller), the real WorkerNode and NodeAgent, the real rpc.ts and ClusterState, over an
 * in-memory NATS whose messages a seeded scheduler delivers in random orders, with a virtual
 * clock for heartbeats, deadlines and timeouts. Replicas are stand-ins (no Worker starts), and
 * so are the proxies' main threads: they record what the protocol told them (the processes and
 * stand-ins are in control_sim_nodes.ts).
 *
 * What the in-memory NATS keeps, as NATS core does: one publisher's messages reach one
 * subscriber connection in the order they were sent (each (publisher, subscriber) pair is a FIFO
 * lane; across lanes, anything goes); a request to a subject nobody listens on fails at once
 * ("no responders"); a request unanswered within its timeout fails; a process killed loses what
 * was sent to it, while what it sent before reaches the server and is delivered. What it may
 * lose, as NATS core may (at most once): a few heartbeats, and what was on its way to a node
 * cut off from the server (what that node sends or asks meanwhile waits in its connection and
 * leaves when it is back). The KV
 * bucket (JetStream) loses nothing that was written.
 *
 * The virtual clock replaces setTimeout, setInterval, performance.now and Date.now while a
 * schedule runs (as tests/wire/sim.ts replaces Math.random): production code keeps its own
 * timers, and a schedule of minutes runs in milliseconds. A message in flight is delivered
 * within MAX_LATENCY_MS of virtual time; between that and the timers, the order is drawn.
 */
import type { DeploymentSpec } from "../../sdk/graph.ts";
import { DEFAULT_OPTIONS } from "../../sdk/options.ts";
import { decodeWire } from "../../runtime/cluster/codec.ts";
import { Subjects } from "../../runtime/cluster/options.ts";
import type { LogRecord } from "../../runtime/log/record.ts";
import { logger } from "../../runtime/log/logger.ts";
import { rng } from "../random.ts";
import type { Proc } from "./control_sim_nodes.ts";

/** SIM_TRACE=1 prints every delivery, timer and fault as it happens. */
const TRACE = !!process.env.SIM_TRACE;

/** The longest a message is in flight (virtual time): the clock never passes an undelivered message's deadline. */
export const MAX_LATENCY_MS = 50;

/** Heartbeats lost in a row on one lane, at most: a node beats each second, and is dead after 5 s. */
const MAX_BEATS_LOST_IN_A_ROW = 3;

// --- the virtual clock ---

class SimTimer {
  cleared = false;
  constructor(
    readonly seq: number,
    public at: number,
    readonly every: number | undefined,
    readonly fn: () => void,
    readonly owner: Proc | undefined,
  ) {}
  unref(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  hasRef(): boolean {
    return false;
  }
  refresh(): this {
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.seq;
  }
}

// --- the in-memory NATS ---

interface SimMsg {
  subject: string;
  data: Uint8Array;
  reply?: string;
  sid: number;
  respond(data?: Uint8Array): boolean;
}

class SimSub {
  closed = false;
  constructor(
    readonly conn: SimConnection,
    readonly subject: string,
    readonly callback: (err: Error | null, msg: SimMsg) => void,
  ) {}
  unsubscribe(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.net.unsubscribe(this);
  }
  drain(): Promise<void> {
    this.unsubscribe();
    return Promise.resolve();
  }
  isClosed(): boolean {
    return this.closed;
  }
}

interface Item {
  sub: SimSub;
  msg: SimMsg;
  deadline: number;
}

class Lane {
  readonly queue: Item[] = [];
  constructor(
    readonly from: SimConnection,
    readonly to: SimConnection,
  ) {}
}

/** Status events of a connection (the Bridge makes its links anew after a reconnect). */
class StatusFeed implements AsyncIterable<{ type: string }> {
  readonly #queue: { type: string }[] = [];
  #waiting: ((r: IteratorResult<{ type: string }>) => void) | undefined;
  #ended = false;
  push(type: string): void {
    const w = this.#waiting;
    this.#waiting = undefined;
    if (w) w({ value: { type }, done: false });
    else this.#queue.push({ type });
  }
  end(): void {
    this.#ended = true;
    this.#waiting?.({ value: undefined, done: true });
  }
  [Symbol.asyncIterator](): AsyncIterator<{ type: string }> {
    return {
      next: () => {
        const v = this.#queue.shift();
        if (v) return Promise.resolve({ value: v, done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.#waiting = resolve));
      },
    };
  }
}

/** The part of a NatsConnection that runtime/cluster uses. */
export class SimConnection {
  readonly info = { max_payload: 1024 * 1024 };
  /** Each status() iterator (nats.js gives every caller its own). */
  readonly feeds: StatusFeed[] = [];
  /** What it sent while cut off (nats.js keeps it), sent once it is back. */
  readonly outbox: (() => void)[] = [];
  closed = false;
  #inbox = 0;
  constructor(
    readonly net: Sim,
    readonly proc: Proc,
    readonly id: number,
  ) {}
  publish(subject: string, data?: Uint8Array, opts?: { reply?: string }): void {
    this.net.publish(this, subject, data ?? new Uint8Array(), opts?.reply);
  }
  subscribe(subject: string, opts: { callback: (err: Error | null, msg: SimMsg) => void }): SimSub {
    const sub = new SimSub(this, subject, opts.callback);
    if (!this.closed) this.net.addSub(sub);
    return sub;
  }
  request(subject: string, data: Uint8Array, opts: { timeout: number }): Promise<SimMsg> {
    return new Promise((resolve, reject) => {
      const inbox = `_INBOX.${this.id}.${++this.#inbox}`;
      const timer = setTimeout(() => {
        sub.unsubscribe();
        this.net.answered(inbox);
        if (TRACE) this.net.trace(`${this.proc.name}: no answer on ${subject} within ${opts.timeout} ms (${inbox})`);
        reject(Object.assign(new Error("timeout"), { name: "TimeoutError" }));
      }, opts.timeout);
      const sub = this.subscribe(inbox, {
        callback: (_err, msg) => {
          clearTimeout(timer);
          sub.unsubscribe();
          this.net.answered(inbox);
          resolve(msg);
        },
      });
      this.net.requested(inbox, this, subject, data);
      const send = () => {
        if (this.net.hasListener(subject)) return this.net.publish(this, subject, data, inbox);
        // The server answers "503 no responders" at once (a status message, no body).
        clearTimeout(timer);
        sub.unsubscribe();
        this.net.answered(inbox);
        const cause = Object.assign(new Error(`no responders: '${subject}'`), { name: "NoResponders" });
        setTimeout(() => reject(Object.assign(new Error(cause.message, { cause }), { name: "RequestError", isNoResponders: () => true })), 0);
      };
      // Cut off, the request waits in the connection; the server sees it once it is back.
      if (this.proc.cut) this.outbox.push(send);
      else send();
    });
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  status(): AsyncIterable<{ type: string }> {
    const feed = new StatusFeed();
    this.feeds.push(feed);
    return feed;
  }
  pushStatus(type: string): void {
    for (const f of this.feeds) f.push(type);
  }
  drain(): Promise<void> {
    this.net.closeConnection(this);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return this.drain();
  }
}

/** The JetStream KV bucket: shared by every head incarnation, and it loses nothing written. */
export class SimKV {
  readonly data = new Map<string, Uint8Array>();
  constructor(readonly sim: Sim) {}
  async put(k: string, v: Uint8Array): Promise<number> {
    await this.sim.sleep(this.sim.between(1, 10));
    this.data.set(k, v);
    return 0;
  }
  async get(k: string): Promise<{ operation: string; value: Uint8Array } | null> {
    await this.sim.sleep(this.sim.between(1, 10));
    const v = this.data.get(k);
    return v ? { operation: "PUT", value: v } : null;
  }
  async delete(k: string): Promise<void> {
    await this.sim.sleep(this.sim.between(1, 10));
    this.data.delete(k);
  }
  async keys(filter: string): Promise<AsyncIterable<string>> {
    await this.sim.sleep(this.sim.between(1, 10));
    const prefix = filter.replace(/\*$/, "");
    const found = [...this.data.keys()].filter((k) => k.startsWith(prefix));
    return (async function* () {
      yield* found;
    })();
  }
}

// --- the simulation ---

export class Sim {
  readonly random: () => number;
  now = 0;
  steps = 0;
  readonly #timers = new Set<SimTimer>();
  #timerSeq = 0;
  readonly #subs = new Map<string, Set<SimSub>>();
  readonly #lanes = new Map<string, Lane>();
  /** Heartbeats lost in a row, by lane. */
  readonly #lostBeats = new Map<string, number>();
  #connSeq = 0;
  /** The process whose code runs now: timers it makes are its own, and die with it. */
  current: Proc | undefined;
  /** Requests waiting for an answer: inbox -> who asked, and what. */
  readonly pending = new Map<string, { conn: SimConnection; subject: string; since: number; what: string }>();
  readonly kv = new SimKV(this);
  readonly subjects = new Subjects("sim");
  /** Every log record, and what went wrong outside them (a timer that threw). */
  readonly logs: (LogRecord & { proc?: string })[] = [];
  readonly errors: string[] = [];
  /** Reconnects of any process. */
  reconnects = 0;
  /** Heartbeats lost (NATS core is at most once) with this probability. */
  dropHeartbeats = 0;
  readonly traceLines: string[] = [];

  constructor(readonly seed: number) {
    this.random = rng(seed);
  }

  between(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  trace(line: string): void {
    const l = `${(this.now / 1000).toFixed(3)}s #${this.steps} ${line}`;
    this.traceLines.push(l);
    if (this.traceLines.length > 400) this.traceLines.shift();
    if (TRACE) console.log(l);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // --- clock ---

  timer(fn: () => void, ms: number | undefined, every: boolean): SimTimer {
    const delay = Math.max(0, Number(ms) || 0);
    const t = new SimTimer(++this.#timerSeq, this.now + delay, every ? Math.max(1, delay) : undefined, fn, this.current);
    this.#timers.add(t);
    return t;
  }

  #saved: { setTimeout: typeof setTimeout; setInterval: typeof setInterval; clearTimeout: typeof clearTimeout; clearInterval: typeof clearInterval; now: () => number; dateNow: () => number; toStderr: boolean; logLevel: typeof logger.settings.logLevel; random: () => number } | undefined;

  /** Virtual time replaces the real one until `uninstall()`; logs are kept here instead of written. */
  install(): void {
    const g = globalThis as unknown as Record<string, unknown>;
    this.#saved = {
      setTimeout: globalThis.setTimeout,
      setInterval: globalThis.setInterval,
      clearTimeout: globalThis.clearTimeout,
      clearInterval: globalThis.clearInterval,
      now: performance.now.bind(performance),
      dateNow: Date.now,
      toStderr: logger.toStderr,
      logLevel: logger.settings.logLevel,
      random: Math.random,
    };
    Math.random = this.random;
    const clear = (t: unknown) => {
      if (t instanceof SimTimer) {
        t.cleared = true;
        this.#timers.delete(t);
      }
    };
    g.setTimeout = (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => this.timer(() => fn(...args), ms, false);
    g.setInterval = (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => this.timer(() => fn(...args), ms, true);
    g.clearTimeout = clear;
    g.clearInterval = clear;
    Object.defineProperty(performance, "now", { value: () => this.now, configurable: true, writable: true });
    Date.now = () => 1_800_000_000_000 + Math.floor(this.now);
    logger.toStderr = false;
    logger.settings.logLevel = "info";
    logger.listeners.add(this.#log);
  }

  uninstall(): void {
    const s = this.#saved;
    if (!s) return;
    const g = globalThis as unknown as Record<string, unknown>;
    g.setTimeout = s.setTimeout;
    g.setInterval = s.setInterval;
    g.clearTimeout = s.clearTimeout;
    g.clearInterval = s.clearInterval;
    Object.defineProperty(performance, "now", { value: s.now, configurable: true, writable: true });
    Date.now = s.dateNow;
    Math.random = s.random;
    logger.toStderr = s.toStderr;
    logger.settings.logLevel = s.logLevel;
    logger.listeners.delete(this.#log);
    this.#saved = undefined;
  }

  readonly #log = (r: LogRecord) => {
    const proc = this.current ? `${this.current.name}#${this.current.incarnation}${this.current.alive ? "" : " (killed)"}` : "the test";
    this.logs.push({ ...r, proc });
    this.trace(`${proc} logs ${r.level}: ${r.msg.split("\n")[0]}`);
  };

  /**
   * Runs `fn` as process `proc`: the timers it makes are its own, and so are those its promises
   * make as they settle after this step (until the next step runs as another process).
   */
  as<T>(proc: Proc, fn: () => T): T {
    this.current = proc;
    return fn();
  }

  // --- transport ---

  connect(proc: Proc): SimConnection {
    return new SimConnection(this, proc, ++this.#connSeq);
  }

  addSub(sub: SimSub): void {
    let set = this.#subs.get(sub.subject);
    if (!set) this.#subs.set(sub.subject, (set = new Set()));
    set.add(sub);
  }

  unsubscribe(sub: SimSub): void {
    this.#subs.get(sub.subject)?.delete(sub);
  }

  hasListener(subject: string): boolean {
    for (const s of this.#subs.get(subject) ?? []) if (!s.closed && s.conn.proc.alive && !s.conn.closed && !s.conn.proc.cut) return true;
    return false;
  }

  requested(inbox: string, conn: SimConnection, subject: string, data: Uint8Array): void {
    let what = "?";
    try {
      what = JSON.stringify(decodeWire(data)).slice(0, 160);
    } catch {}
    this.pending.set(inbox, { conn, subject, since: this.now, what });
    if (TRACE) this.trace(`${conn.proc.name} asks ${subject} (${inbox}): ${what}`);
  }

  answered(inbox: string): void {
    this.pending.delete(inbox);
  }

  publish(from: SimConnection, subject: string, data: Uint8Array, reply: string | undefined): void {
    if (from.closed || !from.proc.alive) return;
    // Cut off, nats.js keeps what its process publishes and sends it once reconnected.
    if (from.proc.cut) return void from.outbox.push(() => this.publish(from, subject, data, reply));
    // Copied, as a message on the wire is: the sender may reuse its buffer.
    const copy = new Uint8Array(data);
    for (const sub of this.#subs.get(subject) ?? []) {
      // The server forgot the subscriptions of a connection it lost: not delivered there.
      if (sub.closed || sub.conn.closed || sub.conn.proc.cut) continue;
      const key = `${from.id}>${sub.conn.id}`;
      let lane = this.#lanes.get(key);
      if (!lane) this.#lanes.set(key, (lane = new Lane(from, sub.conn)));
      // A heartbeat lost here and there (never so many in a row that its sender looks dead: that
      // takes a connection lost, which `cut` plays).
      if (subject === this.subjects.heartbeat) {
        const lost = this.#lostBeats.get(key) ?? 0;
        const lose = lost < MAX_BEATS_LOST_IN_A_ROW && this.random() < this.dropHeartbeats;
        this.#lostBeats.set(key, lose ? lost + 1 : 0);
        if (lose) continue;
      }
      const last = lane.queue.at(-1)?.deadline ?? 0;
      const deadline = Math.max(last, this.now + this.between(0, MAX_LATENCY_MS));
      const sid = 0;
      const conn = sub.conn;
      const msg: SimMsg = {
        subject,
        data: copy,
        ...(reply !== undefined && { reply }),
        sid,
        respond: (d?: Uint8Array) => {
          if (reply === undefined) return false;
          this.publish(conn, reply, d ?? new Uint8Array(), undefined);
          return true;
        },
      };
      lane.queue.push({ sub, msg, deadline });
    }
  }

  closeConnection(conn: SimConnection): void {
    if (conn.closed) return;
    conn.closed = true;
    for (const set of this.#subs.values()) for (const s of set) if (s.conn === conn) set.delete(s);
    // What it sent is at the server already and still goes out; what was sent to it is lost.
    for (const [key, lane] of this.#lanes) if (lane.to === conn) this.#lanes.delete(key);
    for (const [inbox, p] of this.pending) if (p.conn === conn) this.pending.delete(inbox);
    for (const f of conn.feeds) f.end();
  }

  /** Kills a process (kill -9): its timers stop, its Workers die with it, its connection closes. */
  kill(proc: Proc, conn: SimConnection): void {
    this.trace(`${proc.name} (incarnation ${proc.incarnation}) is killed`);
    proc.alive = false;
    this.closeConnection(conn);
    for (const t of this.#timers) if (t.owner === proc) this.#timers.delete(t);
  }

  /**
   * Cuts `proc` off from the server until `heal`: what was on its way to it is lost, and so is
   * what is sent to it meanwhile (requests to it find no responders); what it sends meanwhile
   * waits in its connection and leaves when it is back.
   */
  cut(proc: Proc, conn: SimConnection): void {
    this.trace(`${proc.name} is cut off from NATS`);
    proc.cut = true;
    for (const [key, lane] of this.#lanes) if (lane.to === conn) this.#lanes.delete(key);
    this.as(proc, () => conn.pushStatus("disconnect"));
  }

  heal(proc: Proc, conn: SimConnection): void {
    if (!proc.alive || !proc.cut) return;
    this.trace(`${proc.name} is back on NATS`);
    proc.cut = false;
    this.reconnects++;
    this.as(proc, () => conn.pushStatus("reconnect"));
    for (const send of conn.outbox.splice(0)) send();
  }

  // --- the scheduler ---

  /**
   * One step: a message delivered (the head of a random lane), a due timer run, or the clock
   * moved to the next timer (never past a message's deadline). False once `until` is reached.
   */
  step(until: number): boolean {
    const lanes: Lane[] = [];
    let earliest = Infinity;
    for (const [key, lane] of this.#lanes) {
      if (lane.queue.length === 0) {
        this.#lanes.delete(key);
        continue;
      }
      if (lane.to.proc.cut || !lane.to.proc.alive) {
        this.#lanes.delete(key);
        continue;
      }
      lanes.push(lane);
      earliest = Math.min(earliest, lane.queue[0]!.deadline);
    }
    const due: SimTimer[] = [];
    let next = Infinity;
    for (const t of this.#timers) {
      if (t.owner && !t.owner.alive) {
        this.#timers.delete(t);
        continue;
      }
      if (t.at <= this.now) due.push(t);
      else next = Math.min(next, t.at);
    }
    const choices = lanes.length + due.length;
    // A due timer runs at its time (interleaved with the messages then in flight), never late.
    const canAdvance = due.length === 0 && next <= earliest && next <= until;
    if (choices === 0 || (canAdvance && this.random() < 1 / (choices + 1))) {
      if (!canAdvance) {
        if (choices === 0 && until > this.now && next > until) this.now = until;
        return false;
      }
      this.now = next;
      return true;
    }
    this.steps++;
    const i = Math.floor(this.random() * choices);
    if (i < lanes.length) {
      const lane = lanes[i]!;
      const item = lane.queue.shift()!;
      if (item.sub.closed) return true;
      this.current = lane.to.proc;
      if (TRACE) this.trace(`${lane.from.proc.name} -> ${lane.to.proc.name}#${lane.to.proc.incarnation} on ${item.msg.subject}: ${describe(item.msg.data)}`);
      try {
        item.sub.callback(null, item.msg);
      } catch (e) {
        this.errors.push(`a subscription callback on ${item.msg.subject} threw: ${(e as Error).stack}`);
      }
    } else {
      // Ties in time: timers made earlier run first only by chance, as two processes' timers do.
      const t = due[i - lanes.length]!;
      if (t.every !== undefined) t.at += t.every;
      else this.#timers.delete(t);
      this.current = t.owner;
      if (TRACE && t.owner) this.trace(`a timer of ${t.owner.name}`);
      try {
        t.fn();
      } catch (e) {
        this.errors.push(`a timer of ${t.owner?.name ?? "the test"} threw: ${(e as Error).stack}`);
      }
    }
    return true;
  }

  /** Steps until virtual time `until`, letting promises settle after each step. */
  async runUntil(until: number, maxSteps = 100_000): Promise<void> {
    await settle();
    let n = 0;
    while (this.step(until)) {
      await settle();
      if (++n > maxSteps) throw new Error(`seed ${this.seed}: more than ${maxSteps} steps before ${until} ms (a livelock?)`);
    }
    this.current = undefined;
  }

  /** Runs `fn` at virtual time `at` (or now), as the test (no process owns it). */
  at(at: number, fn: () => void): void {
    const before = this.current;
    this.current = undefined;
    this.timer(fn, at - this.now, false);
    this.current = before;
  }

  // --- the processes ---

  readonly spec = (name: string, options: Partial<DeploymentSpec["options"]>, handles: string[] = []): DeploymentSpec =>
    ({ name, kind: "class", source: { module: "sim.ts", export: name }, args: [], handles, options: { ...DEFAULT_OPTIONS, ...options } }) as unknown as DeploymentSpec;
}

/** Lets every queued microtask run; nothing else runs between steps (timers are virtual). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A control message as the trace shows it. */
function describe(data: Uint8Array): string {
  try {
    return JSON.stringify(decodeWire(data)).slice(0, 200);
  } catch {
    return `${data.length} bytes`;
  }
}
