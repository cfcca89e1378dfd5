/**
 * A deterministic simulation of the cluster's control protocol: the real ClusterHead (with a
 * real Controller), the real WorkerNode and NodeAgent, the real rpc.ts and ClusterState, over an
 * in-memory NATS whose messages a seeded scheduler delivers in random orders, with a virtual
 * clock for heartbeats, deadlines and timeouts. Replicas are stand-ins (no Worker starts), and
 * so are the proxies' main threads: they record what the protocol told them.
 *
 * What the in-memory NATS keeps, as NATS core does: one publisher's messages reach one
 * subscriber connection in the order they were sent (each (publisher, subscriber) pair is a FIFO
 * lane; across lanes, anything goes); a request to a subject nobody listens on fails at once
 * ("no responders"); a request unanswered within its timeout fails; a process killed loses what
 * was sent to it, while what it sent before reaches the server and is delivered. What it may
 * lose, as NATS core may (at most once): a few heartbeats, and what was on its way to a node
 * cut off from the server (what that node sends meanwhile leaves when it is back). The KV bucket (JetStream) loses nothing that was written.
 *
 * The virtual clock replaces setTimeout, setInterval, performance.now and Date.now while a
 * schedule runs (as tests/wire/sim.ts replaces Math.random): production code keeps its own
 * timers, and a schedule of minutes runs in milliseconds. A message in flight is delivered
 * within MAX_LATENCY_MS of virtual time; between that and the timers, the order is drawn.
 */
import type { DeploymentSpec } from "../../sdk/graph.ts";
import { DEFAULT_OPTIONS } from "../../sdk/options.ts";
import type { ReplicaState } from "../../sdk/status.ts";
import type { ConfigApplier, Prepared, PreparedApp } from "../../runtime/admin/apply.ts";
import { ClusterHead } from "../../runtime/cluster/head.ts";
import { decodeWire } from "../../runtime/cluster/codec.ts";
import type { ClusterOptions } from "../../runtime/cluster/options.ts";
import { Subjects } from "../../runtime/cluster/options.ts";
import { ClusterState } from "../../runtime/cluster/state.ts";
import { WorkerNode } from "../../runtime/cluster/worker_node.ts";
import type { CodeStore } from "../../runtime/cluster/code.ts";
import { type CallerThread, Controller } from "../../runtime/controller/controller.ts";
import { type ManagedReplica, newReplicaId } from "../../runtime/controller/worker.ts";
import type { Directory } from "../../runtime/replica/directory.ts";
import type { ControllerForReplica } from "../../runtime/replica/host.ts";
import type { LogRecord } from "../../runtime/log/record.ts";
import { logger } from "../../runtime/log/logger.ts";
import { rng } from "../random.ts";

/** SIM_TRACE=1 prints every delivery, timer and fault as it happens. */
const TRACE = !!process.env.SIM_TRACE;

/** The longest a message is in flight (virtual time): the clock never passes an undelivered message's deadline. */
export const MAX_LATENCY_MS = 50;

/** Heartbeats lost in a row on one lane, at most: a node beats each second, and is dead after 5 s. */
const MAX_BEATS_LOST_IN_A_ROW = 3;

/** A process: the head or a worker node, one incarnation (a node started again is a new Proc with the same name). */
export class Proc {
  alive = true;
  /** Cut off from the NATS server: what it sends and what is sent to it is lost. */
  cut = false;
  readonly replicas = new Map<string, FakeReplica>();
  readonly main = new FakeThread();
  /** Reconnects its connection saw (links are made anew after one: a second addLink is right then). */
  reconnects = 0;
  constructor(
    readonly name: string,
    readonly incarnation: number,
  ) {}
}

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
  /** What it published while cut off, sent once it is back. */
  readonly outbox: [string, Uint8Array, string | undefined][] = [];
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
      if (!this.net.hasListener(subject)) {
        // The server answers "503 no responders" at once (a status message, no body).
        clearTimeout(timer);
        sub.unsubscribe();
        this.net.answered(inbox);
        const cause = Object.assign(new Error(`no responders: '${subject}'`), { name: "NoResponders" });
        setTimeout(() => reject(Object.assign(new Error(cause.message, { cause }), { name: "RequestError", isNoResponders: () => true })), 0);
        return;
      }
      this.net.publish(this, subject, data, inbox);
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

// --- stand-ins for what runs in Workers and proxies ---

/** A caller thread (a proxy's main thread, or a replica's): what it was told. */
export class FakeThread implements CallerThread {
  /** addLink calls per replica. */
  readonly links = new Map<string, number>();
  /** Replicas it holds a port to (added by addLink, dropped by replicaDied). */
  readonly live = new Set<string>();
  readonly routes = new Map<string, string[]>();
  readonly died = new Map<string, number>();
  readonly unavailableKeys = new Set<string>();
  addLink(replicaId: string, port: unknown): void {
    this.links.set(replicaId, (this.links.get(replicaId) ?? 0) + 1);
    this.live.add(replicaId);
    if (port instanceof MessagePort) port.close();
  }
  setReplicas(key: string, ids: string[]): void {
    this.routes.set(key, [...ids]);
    this.unavailableKeys.delete(key);
  }
  unavailable(key: string): void {
    this.unavailableKeys.add(key);
  }
  replicaDied(replicaId: string): void {
    this.died.set(replicaId, (this.died.get(replicaId) ?? 0) + 1);
    this.live.delete(replicaId);
  }
  setDirectory(): void {}
  setModels(): void {}
  queued(): number {
    return 0;
  }
}

/**
 * A replica whose Worker is a few lines: it starts after a while, holds handles to the
 * deployments its spec names (it subscribes to them, as a replica's Client does), and records
 * what its thread is told. `crash()` is its Worker dying.
 */
export class FakeReplica implements ManagedReplica {
  readonly id: string;
  state: ReplicaState = "STARTING";
  models: string[] = [];
  node?: string;
  onKilled: (() => void) | undefined;
  readonly thread = new FakeThread();
  #exited = false;
  #onExit: ((err: Error) => void)[] = [];
  readonly host: ManagedReplica["host"];

  constructor(
    readonly sim: Sim,
    readonly proc: Proc,
    readonly appName: string,
    readonly spec: DeploymentSpec,
    readonly api: ControllerForReplica,
    id?: string,
  ) {
    this.id = id ?? newReplicaId(appName, spec.name);
    proc.replicas.set(this.id, this);
    const t = this.thread;
    const subscribeAll = () => {
      for (const h of spec.handles) api.subscribe(appName, h);
    };
    const host = {
      checkHealth: () => this.#answer(undefined),
      setDirectory: () => this.#answer(undefined),
      resubscribe: () => {
        subscribeAll();
        return this.#answer(undefined);
      },
      addLink: (replicaId: string, port: unknown) => {
        t.addLink(replicaId, port);
        return this.#answer(undefined);
      },
      accept: (port: unknown) => {
        if (port instanceof MessagePort) port.close();
        return this.#answer(undefined);
      },
      replicaDied: (replicaId: string) => {
        t.replicaDied(replicaId);
        return this.#answer(undefined);
      },
      setReplicas: (key: string, ids: string[]) => {
        t.setReplicas(key, ids);
        return this.#answer(undefined);
      },
      unavailable: (key: string) => {
        t.unavailable(key);
        return this.#answer(undefined);
      },
      queuedFor: () => this.#answer(0),
      ongoing: () => this.#answer(0),
      stats: () => this.#answer({ loads: 0, unloads: 0, loadMsTotal: 0, ongoing: 0, oldestMs: 0 }),
      metrics: () => this.#answer(undefined),
    };
    this.host = new Proxy(host, {
      get: (target, method) => (target as Record<string | symbol, unknown>)[method] ?? (() => this.#answer(undefined)),
    }) as unknown as ManagedReplica["host"];
    this.subscribeAll = subscribeAll;
  }

  readonly subscribeAll: () => void;

  /** A Worker answers while it runs; a dead one never does. */
  #answer<T>(value: T): Promise<T> {
    if (!this.alive) return new Promise(() => {});
    return Promise.resolve(value);
  }

  get alive(): boolean {
    return !this.#exited && this.proc.alive;
  }

  async start(_directory: Directory): Promise<void> {
    const exited = new Promise<never>((_, reject) => this.onExit(reject));
    await Promise.race([this.sim.sleep(this.sim.between(5, 400)), exited]);
    if (!this.alive) throw new Error(`replica ${this.id} died while starting`);
    this.subscribeAll();
  }

  onExit(listener: (err: Error) => void): void {
    if (this.#exited) return;
    this.#onExit.push(listener);
  }

  /** Its Worker crashes. */
  crash(): void {
    if (this.#exited) return;
    this.sim.trace(`${this.proc.name}: replica ${this.id} crashes`);
    this.#exited = true;
    const listeners = this.#onExit;
    this.#onExit = [];
    // What its process does about it is that process's (its timers die with it).
    this.sim.as(this.proc, () => {
      for (const l of listeners) l(new Error(`replica ${this.id} crashed`));
    });
  }

  async stop(_timeoutMs: number): Promise<void> {
    if (this.#exited) return;
    this.state = "STOPPING";
    this.#onExit = [];
    await this.sim.sleep(this.sim.between(1, 200));
    this.kill();
  }

  #killed = false;

  kill(): void {
    if (this.#killed) return;
    this.#killed = true;
    this.#onExit = [];
    this.#exited = true;
    this.onKilled?.();
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
    if (from.proc.cut) return void from.outbox.push([subject, data, reply]);
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
    proc.reconnects++;
    this.as(proc, () => conn.pushStatus("reconnect"));
    for (const [subject, data, reply] of conn.outbox.splice(0)) this.publish(conn, subject, data, reply);
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

/** The head: its process, connection, controller and applier. */
export class SimHead {
  readonly proc: Proc;
  readonly conn: SimConnection;
  readonly controller: Controller;
  readonly head: ClusterHead;
  readonly applier: ConfigApplier;
  restored: Promise<number> | undefined;

  constructor(
    readonly sim: Sim,
    readonly nodeId: string,
    incarnation: number,
  ) {
    const proc = (this.proc = new Proc(nodeId, incarnation));
    this.conn = sim.connect(proc);
    const controller = (this.controller = new Controller(proc.main));
    controller.newReplica = (appName, spec, api) => new FakeReplica(sim, proc, appName, spec, api);
    const options: ClusterOptions = { url: "nats://sim", name: "sim", nodeId, head: true };
    const state = new (ClusterState as unknown as new (kv: SimKV) => ClusterState)(sim.kv);
    const me = nodeId;
    this.head = sim.as(proc, () =>
      new ClusterHead(
        this.conn as never,
        sim.subjects,
        options,
        controller,
        {
          threads: {
            mainName: "main",
            main: proc.main,
            replica: (id) => {
              const r = controller.replica(id);
              return r && r.node === me ? r : undefined;
            },
            replicas: () => [...controller.replicaWorkers()].filter((r) => r.node === me),
          },
          routes: () => ({ routes: [], failed: [] }),
          httpUrl: `http://${nodeId}`,
        },
        state,
        {} as CodeStore,
        true,
      ),
    );
    this.applier = new SimApplier(controller) as unknown as ConfigApplier;
  }

  /** As `tsserve start --head` does: take back what the state holds. */
  restore(): void {
    this.restored = this.sim.as(this.proc, () => this.head.restore(this.applier));
    this.restored.catch((e) => this.sim.errors.push(`restore failed: ${(e as Error).stack}`));
  }

  /** As `tsserve deploy` does. */
  deploy(app: PreparedApp): Promise<unknown> {
    return this.sim.as(this.proc, () => this.applier.apply({ config: { applications: [app.config] }, apps: [app] } as unknown as Prepared, "add").done);
  }
}

/** What ConfigApplier does that the head relies on (apply one at a time, onApplied, beforeDeploy), without files. */
class SimApplier {
  onApplied: ((apps: PreparedApp[]) => void) | undefined;
  beforeDeploy: ((app: PreparedApp) => Promise<void>) | undefined;
  readonly #apps = new Map<string, PreparedApp>();
  #queue: Promise<unknown> = Promise.resolve();
  constructor(readonly controller: Controller) {}
  apply(prepared: Prepared): { generation: number; done: Promise<{ errors: Record<string, string> }> } {
    const done = this.#queue.then(async () => {
      for (const a of prepared.apps) this.#apps.set(a.config.name, a);
      const errors: Record<string, string> = {};
      try {
        const results = await Promise.allSettled(prepared.apps.map((a) => this.controller.deploy(a.spec)));
        results.forEach((r, i) => {
          if (r.status === "rejected") errors[prepared.apps[i]!.config.name] = (r.reason as Error).message;
        });
      } finally {
        await this.onApplied?.([...this.#apps.values()]);
      }
      return { errors };
    });
    this.#queue = done.catch(() => {});
    return { generation: 0, done };
  }
}

/** A worker node: its process, connection and WorkerNode. */
export class SimNode {
  readonly proc: Proc;
  readonly conn: SimConnection;
  readonly node: WorkerNode;
  /** Deployments its proxy routes to ("app/deployment"): it subscribes to them, and again when asked. */
  readonly wants = new Set<string>();
  left = false;

  constructor(
    readonly sim: Sim,
    readonly nodeId: string,
    incarnation: number,
  ) {
    const proc = (this.proc = new Proc(nodeId, incarnation));
    this.conn = sim.connect(proc);
    const options: ClusterOptions = { url: "nats://sim", name: "sim", nodeId, head: false };
    this.node = new (WorkerNode as unknown as new (nc: unknown, s: Subjects, o: ClusterOptions, c: unknown) => WorkerNode)(this.conn, sim.subjects, options, {});
    this.node.newReplica = (appName, spec, api, id) => new FakeReplica(sim, proc, appName, spec, api, id);
  }

  /** Its proxy listens: it joins (heartbeats, the head's commands). */
  join(): void {
    this.sim.as(this.proc, () =>
      this.node.join(
        {
          mainThread: this.proc.main,
          setClusterRoutes: () => {},
          resubscribe: () => {
            for (const key of this.wants) this.#subscribe(key);
          },
        },
        `http://${this.nodeId}`,
      ),
    );
  }

  /** Its proxy gets a request for `key`: its main thread subscribes to the deployment. */
  route(key: string): void {
    this.wants.add(key);
    this.sim.as(this.proc, () => this.#subscribe(key));
  }

  #subscribe(key: string): void {
    const [appName, deploymentName] = key.split("/") as [string, string];
    this.node.main.routes.subscribe({ appName, deploymentName });
  }

  /** Ctrl-C: it leaves the cluster gracefully. */
  leave(): Promise<void> {
    this.left = true;
    return this.sim.as(this.proc, () => this.node.leave(1000)).then(() => {
      this.proc.alive = false;
    });
  }
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
