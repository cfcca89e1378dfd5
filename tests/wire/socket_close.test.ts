// The caller's end of a relayed socket (runtime/wire/socket.ts) when the ingress's frames and its
// close, or its replica's death, all come before the client's socket is attached (a listener
// whose socket opens a few ticks after the 101): the client gets every frame, in order, then the
// close. Before the fix the close dropped the frames that waited for the client.
import { describe, expect, test } from "bun:test";
import { Router } from "../../runtime/router/router.ts";
import type { Receiver } from "../../runtime/wire/link.ts";
import { K, type Frame, type ToReplica } from "../../runtime/wire/protocol.ts";
import { type ClientSocket, OutgoingSocket } from "../../runtime/wire/socket.ts";

/** A socket routed to a one-link router that records what it posts; `receiver` is what the replica answers to. */
function opened() {
  const posted: ToReplica[] = [];
  let receiver: Receiver | undefined;
  const link = {
    replicaId: "r",
    inFlight: 0,
    dead: false,
    models: new Set<string>(),
    request(msg: ToReplica, r: Receiver) {
      receiver = r;
      posted.push(msg);
    },
    post: (msg: ToReplica) => void posted.push(msg),
    release() {
      link.inFlight--;
    },
    onFree: () => () => {},
  };
  const router = new Router("D");
  router.update([link as never], { maxOngoingRequests: 5, maxQueuedRequests: -1 });
  const socket = new OutgoingSocket(router, { method: "GET", url: "http://127.0.0.1/", headers: {}, body: null }, { requestId: "s" });
  let ended = 0;
  socket.onAnswer = (a) => {
    expect(a.accepted).toBe(true);
    socket.onEnd = () => ended++;
  };
  socket.start();
  expect(posted[0]?.k).toBe(K.SocketOpen);
  receiver!.receive({ k: K.SocketAccepted, id: socket.id });
  // What the client's socket is told, in order.
  const heard: (Frame | { close: number; reason: string })[] = [];
  const client: ClientSocket = {
    send: (frames) => (heard.push(...frames), true),
    close: (code, reason) => void heard.push({ close: code, reason }),
    pause() {},
    resume() {},
  };
  return { socket, receiver: receiver!, client, heard, posted, ended: () => ended };
}

describe("the caller's socket: frames then a close before the client's socket is there", () => {
  test("the ingress's frames and close: every frame, in order, then the close", () => {
    const s = opened();
    s.receiver.receive({ k: K.SocketFrames, id: s.socket.id, v: ["a", "b"] });
    s.receiver.receive({ k: K.SocketFrames, id: s.socket.id, v: ["c"] });
    expect(s.receiver.receive({ k: K.SocketClose, id: s.socket.id, code: 1000, reason: "done" })).toBe(true);
    expect(s.ended()).toBe(1);
    expect(s.heard).toEqual([]);
    s.socket.attach(s.client);
    expect(s.heard).toEqual(["a", "b", "c", { close: 1000, reason: "done" }]);
    // Ended: no credit goes back for those frames, and nothing else is sent for the socket.
    expect(s.posted.map((m) => m.k)).toEqual([K.SocketOpen]);
  });

  test("the ingress's frames, then its replica dies: every frame, in order, then 1011", () => {
    const s = opened();
    s.receiver.receive({ k: K.SocketFrames, id: s.socket.id, v: ["a", "b"] });
    s.receiver.fail(Object.assign(new Error("replica r died"), { name: "ReplicaDiedError" }));
    s.socket.attach(s.client);
    expect(s.heard).toEqual(["a", "b", { close: 1011, reason: "the replica serving this socket died" }]);
    expect(s.ended()).toBe(1);
  });

  test("frames alone wait for the client, and their credit goes back once it took them", () => {
    const s = opened();
    const many = Array.from({ length: 200 }, (_, i) => String(i));
    s.receiver.receive({ k: K.SocketFrames, id: s.socket.id, v: many });
    s.socket.attach(s.client);
    expect(s.heard).toEqual(many);
    expect(s.posted.slice(1)).toEqual([{ k: K.SocketCredit, id: s.socket.id, n: 200 }]);
    expect(s.ended()).toBe(0);
  });
});
