// Pipelined HTTP/1.1: several requests in one TCP write, before any answer. Bun's listener denies
// pipelining behind an answer that is not ready at once (upstream oven-sh/bun#38128): it closes
// the connection unanswered, and every application request waits for a replica. This file
// records where the line runs on each runtime (README, Known limitations); when the Bun test
// below fails, a Bun release answers them and the limitation can go.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { PathEcho } from "../fixtures/http_apps.ts";
import { RawClient } from "../raw_http.ts";

const onDeno = "Deno" in globalThis;
const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

let served: Served;
let app: AsyncDisposable;
beforeAll(async () => {
  served = await startServe();
  app = await deployed(PathEcho.bind("p"), { name: "pipe", routePrefix: "/p" });
});
afterAll(async () => {
  await app[Symbol.asyncDispose]();
  await served[Symbol.asyncDispose]();
});

/** Writes `paths` as requests in one write and reads as many answers, in order. */
async function pipelined(paths: string[]): Promise<{ status: number; body: string }[]> {
  using c = new RawClient(served.url);
  await c.send(paths.map(get).join(""));
  const answers = [];
  for (let i = 0; i < paths.length; i++) {
    const { status, body } = await c.read(10_000);
    answers.push({ status, body });
  }
  return answers;
}

describe("pipelined HTTP/1.1 requests", () => {
  test("sent one after the other on one connection, they are all answered", async () => {
    using c = new RawClient(served.url);
    for (let i = 0; i < 5; i++) expect((await c.request(get(`/p/${i}`))).body).toBe(`p /${i}`);
  });

  test("behind answers made at once (health, routes, a 404), they are all answered in order, the application's too", async () => {
    const answers = await pipelined(["/-/healthz", "/nowhere", "/-/routes", "/p/last"]);
    expect(answers.map((a) => a.status)).toEqual([200, 404, 200, 200]);
    expect(answers[0]!.body).toBe("success");
    expect(answers[1]!.body).toStartWith("Path '/nowhere' not found.");
    expect(JSON.parse(answers[2]!.body)).toMatchObject({ "/p": "pipe" });
    expect(answers[3]!.body).toBe("p /last");
  });

  test.if(onDeno)("on Deno, behind an application's answer, they are all answered in order", async () => {
    const answers = await pipelined(["/p/1", "/p/2", "/-/healthz", "/p/3"]);
    expect(answers).toEqual([
      { status: 200, body: "p /1" },
      { status: 200, body: "p /2" },
      { status: 200, body: "success" },
      { status: 200, body: "p /3" },
    ]);
  });

  test.if(!onDeno)("on Bun, behind an application's answer, the connection closes with neither answered (oven-sh/bun#38128)", async () => {
    using c = new RawClient(served.url);
    await c.send(get("/p/1") + get("/p/2"));
    expect(await c.closes(10_000)).toBe(true);
    expect(c.unread).toBe("");
  });
});
