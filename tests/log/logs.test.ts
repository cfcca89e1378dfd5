/** Log records from the runtime and from replica code, the access log, and their settings. */
import { afterEach, describe, expect, test } from "bun:test";
import { serve, type LoggingSettings } from "tsserve";
import { eventually } from "../harness.ts";
import { logger } from "../../runtime/log/logger.ts";
import type { LogRecord } from "../../runtime/log/record.ts";
import { textLine } from "../../runtime/log/record.ts";
import { Echo, Front, Streamer } from "../fixtures/observed.ts";

afterEach(() => serve.shutdown());

/** Every record the logger writes while the test runs (kept off the test's stderr). */
function recording(): LogRecord[] & Disposable {
  const records = [] as unknown as LogRecord[] & Disposable;
  const listen = (r: LogRecord) => void records.push(r);
  logger.listeners.add(listen);
  logger.toStderr = false;
  records[Symbol.dispose] = () => {
    logger.listeners.delete(listen);
    logger.toStderr = true;
  };
  return records;
}

async function start(logging: LoggingSettings) {
  await serve.shutdown();
  return (await serve.start({ http: { port: 0 }, logging })).httpUrl;
}

describe("logs", () => {
  test("console calls in replicas become records with application, deployment, replica, request id and route", async () => {
    using records = recording();
    const url = await start({ logLevel: "info", enableAccessLog: true });
    await serve.run(Front.bind(Echo.bind()), { name: "l1", routePrefix: "/l1" });
    const res = await fetch(`${url}/l1/x?n=7`, { headers: { "x-request-id": "req-l1-seven" } });
    expect(await res.json()).toEqual({ n: 7 });
    const mine = () => records.filter((r) => r.requestId === "req-l1-seven");
    await eventually(() => mine().length >= 3);
    const echo = mine().find((r) => r.deployment === "Echo")!;
    expect(echo).toMatchObject({ level: "info", msg: "echo 7", application: "l1", deployment: "Echo", route: "/l1" });
    expect(echo.replica).toStartWith("l1#Echo#");
    expect(echo.time).toBeNumber();
    const front = mine().find((r) => r.deployment === "Front")!;
    expect(front).toMatchObject({ level: "warn", msg: "front 7: seven", application: "l1", route: "/l1" });
    const access = mine().find((r) => r.status !== undefined)!;
    expect(access).toMatchObject({ level: "info", application: "l1", route: "/l1", method: "GET", path: "/l1/x", status: 200, requestId: "req-l1-seven" });
    expect(access.latencyMs).toBeGreaterThan(0);
    // The access record is written after the request's own records.
    expect(mine().indexOf(access)).toBe(mine().length - 1);
    expect(textLine(echo)).toMatch(/^INFO \d{4}-\d\d-\d\dT[\d:.]+Z l1\/Echo l1#Echo#\S+ req-l1-seven echo 7\n$/);
  });

  test("a user error's stack is logged once, with its request id; runtime events are logged with their deployment", async () => {
    using records = recording();
    const url = await start({ logLevel: "info" });
    await serve.run(Front.bind(Echo.bind()), { name: "l2", routePrefix: "/l2" });
    expect((await fetch(`${url}/l2?n=13`, { headers: { "x-request-id": "req-l2-err" } })).status).toBe(500);
    const errors = records.filter((r) => r.requestId === "req-l2-err" && r.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toContain("Error: unlucky");
    expect(errors[0]!.msg).toContain("observed.ts");
    const started = records.filter((r) => r.application === "l2" && /started$/.test(r.msg));
    expect(started.map((r) => r.deployment).sort()).toEqual(["Echo", "Echo", "Front"]);
  });

  test("logLevel per deployment drops records below it and changes in place; enableAccessLog turns the access log off", async () => {
    using records = recording();
    const url = await start({ logLevel: "info", enableAccessLog: true });
    const quiet = (lc: object) => Front.options({ loggingConfig: { enableAccessLog: false } }).bind(Echo.options({ loggingConfig: lc }).bind());
    await serve.run(quiet({ logLevel: "error" }), { name: "l3", routePrefix: "/l3" });
    await fetch(`${url}/l3?n=1`, { headers: { "x-request-id": "req-l3-a" } });
    await eventually(() => records.some((r) => r.requestId === "req-l3-a" && r.deployment === "Front"));
    // Echo's info record is dropped in its replica; Front's access record is not written.
    expect(records.filter((r) => r.requestId === "req-l3-a").map((r) => r.deployment)).toEqual(["Front"]);
    // The same deployments with a new loggingConfig: the replicas are kept and take it in place.
    const before = (await serve.status()).applications.l3!.deployments.Echo!.replicas!.map((r) => r.replicaId);
    await serve.run(quiet({ logLevel: "debug" }), { name: "l3", routePrefix: "/l3" });
    expect((await serve.status()).applications.l3!.deployments.Echo!.replicas!.map((r) => r.replicaId)).toEqual(before);
    await fetch(`${url}/l3?n=3`, { headers: { "x-request-id": "req-l3-b" } });
    await eventually(() => records.some((r) => r.requestId === "req-l3-b" && r.deployment === "Echo"));
    expect(records.find((r) => r.requestId === "req-l3-b" && r.deployment === "Echo")!.msg).toBe("echo 3");
    expect(records.some((r) => r.requestId === "req-l3-b" && r.status !== undefined)).toBe(false);
  });

  test("a streamed response's access record is written when the stream ends", async () => {
    using records = recording();
    const url = await start({ enableAccessLog: true, logLevel: "info" });
    await serve.run(Streamer.bind(), { name: "l5", routePrefix: "/l5" });
    const res = await fetch(`${url}/l5`, { headers: { "x-request-id": "req-l5" } });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("a");
    expect(records.some((r) => r.requestId === "req-l5" && r.status !== undefined)).toBe(false);
    let rest = "";
    for (let c = await reader.read(); !c.done; c = await reader.read()) rest += new TextDecoder().decode(c.value);
    expect(rest).toBe("b");
    const access = await eventually(() => records.find((r) => r.requestId === "req-l5" && r.status !== undefined));
    expect(access).toMatchObject({ status: 200, path: "/l5", application: "l5" });
  });

  test("invalid logging settings name the key and the allowed values", async () => {
    await serve.shutdown();
    await expect(serve.start({ http: { port: 0 }, logging: { logLevel: "loud" as "info" } })).rejects.toThrow(/logging.logLevel must be one of debug, info, warn, error, got "loud"/);
    await serve.shutdown();
    expect(() => Echo.options({ loggingConfig: { enableAccessLog: "yes" as unknown as boolean } })).toThrow(/loggingConfig.enableAccessLog must be true or false/);
  });

  test("under load: every request gets exactly one access record", async () => {
    using records = recording();
    const url = await start({ enableAccessLog: true, logLevel: "info" });
    const warn = { loggingConfig: { logLevel: "warn" as const } };
    await serve.run(Front.options(warn).bind(Echo.options(warn).bind()), { name: "l4", routePrefix: "/l4" });
    const callers = 30;
    const each = 40;
    await Promise.all(
      Array.from({ length: callers }, async (_, c) => {
        for (let i = 0; i < each; i++) {
          const r = await fetch(`${url}/l4?n=${100 + c * 100 + i}`, { headers: { "x-request-id": `l4-${c}-${i}` } });
          await r.arrayBuffer();
        }
      }),
    );
    const access = records.filter((r) => r.application === "l4" && r.status === 200);
    expect(access).toHaveLength(callers * each);
    expect(new Set(access.map((r) => r.requestId)).size).toBe(callers * each);
    expect(logger.recent().records).toHaveLength(200);
  });
});

describe("logging in a config file", () => {
  test("logging: { encoding, logLevel, enableAccessLog } is checked with the file and key path", async () => {
    const { validateConfig } = await import("../../runtime/admin/schema.ts");
    const ok = validateConfig({ logging: { encoding: "JSON", logLevel: "debug", enableAccessLog: false }, applications: [] }, "serve.yaml");
    expect(ok.logging).toEqual({ encoding: "JSON", logLevel: "debug", enableAccessLog: false });
    expect(() => validateConfig({ logging: { logLevel: "loud" }, applications: [] }, "serve.yaml")).toThrow('serve.yaml: logging.logLevel must be one of debug, info, warn, error, got "loud"');
    expect(() => validateConfig({ logging: { encoding: "XML" }, applications: [] }, "serve.yaml")).toThrow('serve.yaml: logging.encoding must be TEXT or JSON, got "XML"');
    expect(() => validateConfig({ logging: { colour: true }, applications: [] }, "serve.yaml")).toThrow(/serve.yaml: unknown logging option "colour"; known options: logLevel, enableAccessLog, encoding/);
    const bad = { applications: [{ importPath: "./a.ts", deployments: [{ name: "A", loggingConfig: { logLevel: "nope" } }] }] };
    expect(() => validateConfig(bad, "serve.yaml")).toThrow('serve.yaml: applications[0].deployments[0].loggingConfig.logLevel must be one of debug, info, warn, error, got "nope"');
  });
});
