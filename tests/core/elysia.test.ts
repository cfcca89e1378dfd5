// Elysia ingresses: answers pass through as plain Elysia gives them, typed builders, event streams.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { startServe, type Served } from "../harness.ts";
import { AsyncApi, Bodies, Broken, GatedEvents, PassThrough, routes, typedApp } from "../fixtures/elysia_apps.ts";

let s: Served;
let plain: ReturnType<typeof Bun.serve>;
const gate = new SharedArrayBuffer(4);

beforeAll(async () => {
  s = await startServe();
  await Promise.all([
    serve.run(PassThrough.bind(), { name: "pass", routePrefix: "/pass" }),
    serve.run(typedApp, { name: "typed", routePrefix: "/typed" }),
    serve.run(AsyncApi.bind("built later"), { name: "async", routePrefix: "/async" }),
    serve.run(GatedEvents.bind(gate), { name: "events", routePrefix: "/events" }),
    serve.run(Bodies.bind(), { name: "bodies", routePrefix: "/bodies" }),
  ]);
  // The same routes served by Elysia alone: what tsserve must not change.
  plain = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: routes().fetch });
});
afterAll(async () => {
  plain?.stop(true);
  await s[Symbol.asyncDispose]();
});

describe("an Elysia ingress's answers pass through unchanged", () => {
  for (const path of ["/string", "/json", "/number", "/created", "/html", "/bytes", "/teapot", "/redirect", "/generator"]) {
    test(`${path}: status, content type, headers and body as from plain Elysia`, async () => {
      const [ours, theirs] = await Promise.all([
        fetch(`${s.url}/pass${path}`, { redirect: "manual" }),
        fetch(`${plain.url.href.replace(/\/$/, "")}${path}`, { redirect: "manual" }),
      ]);
      expect(ours.status).toBe(theirs.status);
      expect(ours.headers.get("content-type")).toBe(theirs.headers.get("content-type"));
      for (const name of ["x-custom", "location", "cache-control"]) expect(ours.headers.get(name)).toBe(theirs.headers.get(name));
      expect(new Uint8Array(await ours.arrayBuffer())).toEqual(new Uint8Array(await theirs.arrayBuffer()));
      expect(ours.headers.get("x-request-id")).toBeTruthy();
    });
  }

  test("a string route is text/plain, never a download", async () => {
    const res = await fetch(`${s.url}/pass/string`);
    expect(res.headers.get("content-type")).toBe("text/plain;charset=utf-8");
    expect(await res.text()).toBe("plain text");
  });

  test("an unnamed serve.ingress() deployment is named Ingress", async () => {
    const status = await serve.status();
    expect(Object.keys(status.applications.pass!.deployments)).toEqual(["Ingress"]);
  });
});

describe("serve.ingress(builder)", () => {
  test("the builder's parameters are the constructor's: handles and values arrive", async () => {
    const res = await fetch(`${s.url}/typed/hello/Dora`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain;charset=utf-8");
    expect(await res.text()).toBe("Hola, Dora!?");
  });

  test("each replica calls the builder once", async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 200 && seen.size < 2; i++) {
      const { replica, builds } = (await (await fetch(`${s.url}/typed/builds`)).json()) as { replica: string; builds: number };
      seen.set(replica, builds);
    }
    expect(seen.size).toBe(2);
    expect([...seen.values()]).toEqual([1, 1]);
  });

  test("an async builder's app serves once it is built", async () => {
    expect(await (await fetch(`${s.url}/async/`)).text()).toBe("built later");
  });

  test("a builder that returns no app fails the deployment with a message that says so", async () => {
    const err = await serve.run(Broken.bind(1), { name: "broken", routePrefix: "/broken" }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain("serve.ingress(builder): what the builder returned must be an app with handle(request) or fetch(request), such as an Elysia instance; got an object without handle() or fetch()");
    await serve.delete("broken");
  });

  test("under load: 50 callers, 2000 requests through the builder's handle, every answer right", async () => {
    let wrong = 0;
    await Promise.all(
      Array.from({ length: 50 }, async (_, c) => {
        for (let i = 0; i < 40; i++) {
          const res = await fetch(`${s.url}/typed/hello/n${c}-${i}`);
          if ((await res.text()) !== `Hola, n${c}-${i}!?`) wrong++;
        }
      }),
    );
    expect(wrong).toBe(0);
  });
});

describe("event streams", () => {
  test("the head reaches the client before the first event exists", async () => {
    const g = new Int32Array(gate);
    const head = fetch(`${s.url}/events/events`);
    const res = await Promise.race([
      head,
      Bun.sleep(4000).then(() => {
        Atomics.store(g, 0, 1);
        Atomics.notify(g, 0);
        throw new Error("no response head within 4 s while the first event waits: the head waited for the first chunk");
      }),
    ]);
    // The generator is still waiting on the gate: fetch resolved on the head alone.
    expect(Atomics.load(g, 0)).toBe(0);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(res.headers.get("x-gated")).toBe("yes");
    Atomics.store(g, 0, 1);
    Atomics.notify(g, 0);
    const text = await res.text();
    // EventSource ignores comment lines (":..."); the events are the generator's.
    const events = text.split("\n\n").filter((e) => e && !e.startsWith(":"));
    expect(events).toEqual(["data: first", "data: second"]);
  });
});

describe("event streams under load", () => {
  test("50 clients, 1000 event streams: each starts with the comment line, then every event in order", async () => {
    let wrong = 0;
    const want = ":\n\n" + Array.from({ length: 5 }, (_, i) => `data: ${i}\n\n`).join("");
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        for (let i = 0; i < 20; i++) {
          const res = await fetch(`${s.url}/events/burst/5`);
          if (res.headers.get("content-type") !== "text/event-stream" || (await res.text()) !== want) wrong++;
        }
      }),
    );
    expect(wrong).toBe(0);
  });
});

describe("whole Response bodies arrive byte for byte", () => {
  const bytes = async (path: string) => {
    const res = await fetch(`${s.url}/bodies${path}`);
    return { type: res.headers.get("content-type"), body: new Uint8Array(await res.arrayBuffer()) };
  };

  test("a UTF-8 body keeps its byte order mark", async () => {
    expect(await bytes("/bom")).toEqual({ type: "text/plain; charset=utf-8", body: new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]) });
  });

  test("a declared type is kept even when the bytes happen to be text", async () => {
    expect(await bytes("/png")).toEqual({ type: "image/png", body: new TextEncoder().encode("PNG-ish but valid UTF-8") });
  });

  test("a large text body without a type is text/plain, whole", async () => {
    const { type, body } = await bytes("/big");
    expect(type).toBe("text/plain;charset=utf-8");
    expect(new TextDecoder().decode(body)).toBe("é".repeat(100_000));
  });

  test("bytes that are not UTF-8, without a type, are application/octet-stream", async () => {
    expect(await bytes("/binary")).toEqual({ type: "application/octet-stream", body: new Uint8Array([0xff, 0xfe, 0x00, 0x80]) });
  });
});
