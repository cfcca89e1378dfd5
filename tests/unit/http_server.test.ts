import { afterEach, expect, spyOn, test } from "bun:test";
import { serveHttp, type HttpServer } from "../../runtime/platform/index.ts";

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

test("an error escaping the handler answers a plain 500 and logs it, without the stack or source", async () => {
  const logged = spyOn(console, "error").mockImplementation(() => {});
  try {
    server = serveHttp({ host: "127.0.0.1", port: 0, maxRequestBodySize: 1024 }, () => {
      throw new Error("internal detail 1234");
    });
    const res = await fetch(`${server.url}/x`);
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toBe("Internal Server Error");
    expect(logged.mock.calls.map((c) => String(c[0])).join("\n")).toContain("internal detail 1234");
  } finally {
    logged.mockRestore();
  }
});

test("a rejected answer is handled the same way, and the server keeps serving", async () => {
  const logged = spyOn(console, "error").mockImplementation(() => {});
  try {
    server = serveHttp({ host: "127.0.0.1", port: 0, maxRequestBodySize: 1024 }, (req) =>
      req.url.endsWith("/bad") ? Promise.reject(new TypeError("async detail")) : new Response("fine"),
    );
    const bad = await fetch(`${server.url}/bad`);
    expect(bad.status).toBe(500);
    expect(await bad.text()).toBe("Internal Server Error");
    const good = await fetch(`${server.url}/good`);
    expect(good.status).toBe(200);
    expect(await good.text()).toBe("fine");
  } finally {
    logged.mockRestore();
  }
});
