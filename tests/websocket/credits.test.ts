// The relay's flow control, each side alone over a real MessageChannel: exactly a window in
// flight, no more, both ways (wire/socket.ts on the proxy's side, replica/websocket.ts on the replica's).
import { expect, test } from "bun:test";
import { eventually } from "../harness.ts";
import { ReplicaLink } from "../../runtime/wire/link.ts";
import { BatchedPort } from "../../runtime/wire/port.ts";
import { K, type ToCaller, type ToReplica } from "../../runtime/wire/protocol.ts";
import { Router } from "../../runtime/router/router.ts";
import { type ClientSocket, OutgoingSocket, SOCKET_WINDOW } from "../../runtime/wire/socket.ts";
import { Sockets } from "../../runtime/replica/websocket.ts";

/** Every message that arrives on `port`, in order. */
function collect<T>(port: MessagePort): T[] {
  const got: T[] = [];
  port.onmessage = (ev) => got.push(...((typeof ev.data === "string" ? JSON.parse(ev.data) : ev.data) as T[]));
  return got;
}

const req = { method: "GET", url: "http://127.0.0.1/", headers: {}, body: null };

test("proxy side: reading from the client pauses after a window without credit, and resumes with credit", async () => {
  const { port1, port2 } = new MessageChannel();
  const link = new ReplicaLink("r1", port1);
  const router = new Router("D");
  router.update([link], { maxOngoingRequests: 5, maxQueuedRequests: -1 });
  const toReplica = collect<ToReplica>(port2);
  const socket = new OutgoingSocket(router, req, { requestId: "r" });
  let accepted = false;
  socket.onAnswer = (a) => (accepted = a.accepted);
  socket.start();
  await eventually(() => toReplica.some((m) => m.k === K.SocketOpen));
  expect(link.inFlight).toBe(1);
  port2.postMessage([{ k: K.SocketAccepted, id: socket.id }]);
  await eventually(() => accepted);
  expect(link.inFlight).toBe(0); // an open socket holds no request slot
  const calls: string[] = [];
  const client: ClientSocket = { send: () => true, close: () => calls.push("close"), pause: () => calls.push("pause"), resume: () => calls.push("resume") };
  socket.attach(client);
  for (let i = 0; i < SOCKET_WINDOW - 1; i++) socket.fromClient(`m${i}`);
  expect(calls).toEqual([]);
  socket.fromClient("last of the window");
  expect(calls).toEqual(["pause"]);
  socket.fromClient("already read from the socket: still relayed");
  await eventually(() => toReplica.filter((m) => m.k === K.SocketFrames).flatMap((m) => (m as { v: unknown[] }).v).length === SOCKET_WINDOW + 1);
  port2.postMessage(JSON.stringify([{ k: K.SocketCredit, id: socket.id, n: 100 }]));
  await eventually(() => calls.length === 2);
  expect(calls).toEqual(["pause", "resume"]);
  port1.close();
  port2.close();
});

test("proxy side: credit goes back to the replica only once the client's socket has drained", async () => {
  const { port1, port2 } = new MessageChannel();
  const link = new ReplicaLink("r1", port1);
  const router = new Router("D");
  router.update([link], { maxOngoingRequests: 5, maxQueuedRequests: -1 });
  const toReplica = collect<ToReplica>(port2);
  const socket = new OutgoingSocket(router, req, {});
  socket.onAnswer = () => {};
  socket.start();
  await eventually(() => toReplica.length > 0);
  port2.postMessage([{ k: K.SocketAccepted, id: socket.id }]);
  let slow = true;
  const written: unknown[] = [];
  socket.attach({ send: (f) => (written.push(...f), !slow), close() {}, pause() {}, resume() {} });
  port2.postMessage([{ k: K.SocketFrames, id: socket.id, v: Array.from({ length: 300 }, (_, i) => `f${i}`) }]);
  await eventually(() => written.length === 300);
  // A round trip on the channel: any credit would have arrived by now.
  port2.postMessage([{ k: K.SocketFrames, id: socket.id, v: ["ping"] }]);
  await eventually(() => written.length === 301);
  await new Promise((r) => setTimeout(r, 20)); // a negative check: nothing may come
  expect(toReplica.filter((m) => m.k === K.SocketCredit)).toEqual([]);
  slow = false;
  socket.drained();
  await eventually(() => toReplica.some((m) => m.k === K.SocketCredit));
  expect(toReplica.filter((m) => m.k === K.SocketCredit)).toEqual([{ k: K.SocketCredit, id: socket.id, n: 301 }]);
  port1.close();
  port2.close();
});

test("replica side: a generator runs exactly a window ahead of a consumer that grants nothing", async () => {
  const { port1, port2 } = new MessageChannel();
  let produced = 0;
  const instance = {
    async *websocket() {
      for (;;) {
        produced++;
        yield "x";
      }
    },
  };
  const spec = { name: "D", kind: "class" } as unknown as ConstructorParameters<typeof Sockets>[0]["spec"];
  const sockets = new Sockets({ id: "r1", appName: "a", spec, instance });
  const from = { caller: "main", port: new BatchedPort<ToCaller, ToReplica>(port1) };
  from.port.listen((msg) => sockets.receive(from, msg as never));
  const toCaller = collect<ToCaller>(port2);
  const frames = () => toCaller.filter((m) => m.k === K.SocketFrames).reduce((n, m) => n + (m as { v: unknown[] }).v.length, 0);
  port2.postMessage([{ k: K.SocketOpen, id: 7, req, ctx: { requestId: "q" } }]);
  await eventually(() => frames() === SOCKET_WINDOW);
  await new Promise((r) => setTimeout(r, 50)); // a negative check: the generator must not go on
  // The generator was asked for the item it is suspended at only: one window, no more.
  expect(frames()).toBe(SOCKET_WINDOW);
  expect(produced).toBe(SOCKET_WINDOW);
  port2.postMessage([{ k: K.SocketCredit, id: 7, n: 100 }]);
  await eventually(() => frames() === SOCKET_WINDOW + 100);
  await new Promise((r) => setTimeout(r, 50)); // a negative check, as above
  expect(produced).toBe(SOCKET_WINDOW + 100);
  port2.postMessage([{ k: K.SocketClose, id: 7, code: 1000, reason: "" }]);
  await eventually(() => toCaller.some((m) => m.k === K.SocketClose));
  expect(sockets.count).toBe(0);
  port1.close();
  port2.close();
});
