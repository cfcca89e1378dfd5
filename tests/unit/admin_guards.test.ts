// The admin API's Host check (DNS rebinding defence) and its routing without a Host header,
// on a real listener with a stub instance behind it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { allowedHost, type ConfigApplier, ownOrigins, startAdmin } from "../../runtime/admin/index.ts";
import type { HttpServer } from "../../runtime/platform/index.ts";
import { rawRequest } from "../raw_http.ts";

const token = "a-test-token-of-enough-length-42";
let admin: HttpServer;
let port: string;

beforeAll(() => {
  const applier = { controller: { apps: new Map() }, applications: () => [], requested: 0, completed: 0, lastErrors: {} } as unknown as ConfigApplier;
  admin = startAdmin(
    { host: "127.0.0.1", port: 0 },
    {
      token,
      applier,
      status: async () => ({ proxy: { url: null, status: "HEALTHY" }, applications: {} }) as never,
      listening: () => ({ http: { host: "127.0.0.1", port: 1, requestTimeoutMs: null }, admin: { host: "127.0.0.1", port: 2 } }),
      shutdown: async () => {},
      baseDir: "/",
    },
  );
  port = new URL(admin.url).port;
});
afterAll(() => admin.stop());

const get = (host: string | null, withToken = true) =>
  rawRequest(admin.url, `GET /api/serve/applications/ HTTP/1.1\r\n${host === null ? "" : `Host: ${host}\r\n`}${withToken ? `Authorization: Bearer ${token}\r\n` : ""}Connection: close\r\n\r\n`);

describe("admin API Host check", () => {
  test("a Host naming another site is refused with 403, even with the token", async () => {
    for (const host of [`evil.example:${port}`, "evil.example", `localhost.evil.example:${port}`, `127.0.0.1.nip.io:${port}`]) {
      const res = await get(host);
      expect({ host, status: res.status }).toEqual({ host, status: 403 });
      expect(JSON.parse(res.body).error).toContain("DNS rebinding");
    }
  });

  test("its own address, loopback names and IP addresses are served", async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`, "10.1.2.3"]) {
      const res = await get(host);
      expect({ host, status: res.status }).toEqual({ host, status: 200 });
    }
  });

  test("HTTP/1.0 without Host reaches the API (routed by its path) and still needs the token", async () => {
    const ok = await rawRequest(admin.url, `GET /api/serve/applications/ HTTP/1.0\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ applications: {}, config: null });
    const refused = await rawRequest(admin.url, "GET /api/serve/applications/ HTTP/1.0\r\n\r\n");
    expect(refused.status).toBe(401);
  });

  test("a PUT whose Host is another loopback name keeps its body (the request is rebuilt on the listener's origin)", async () => {
    for (const [version, host] of [["1.1", `Host: localhost:${port}\r\n`], ["1.0", ""]]) {
      const res = await rawRequest(admin.url, `PUT /api/serve/applications/ HTTP/${version}\r\n${host}Authorization: Bearer ${token}\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{nope`);
      expect({ version, status: res.status }).toEqual({ version, status: 400 });
      expect(JSON.parse(res.body).error).toStartWith("request body: not valid JSON");
    }
  });

  test("allowedHost: the admin's own host name when it listens on one", () => {
    const origins = ownOrigins("http://myhost.internal:8265");
    expect(allowedHost("myhost.internal:8265", origins)).toBe(true);
    expect(allowedHost("other.internal:8265", origins)).toBe(false);
    expect(allowedHost("192.168.1.5:8265", origins)).toBe(true);
    expect(allowedHost(null, origins)).toBe(true);
    expect(allowedHost("bad host", origins)).toBe(false);
  });
});
