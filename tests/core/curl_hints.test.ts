// What `tsserve run examples/<x>.ts` prints as a curl line to try works: each example is served at
// "/" as run would, and its hint, sent as the request it describes, answers 200. An example that
// is a script calling its app through handles prints none, and its header says how to run it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { serve, type Application } from "tsserve";
import { curlHint } from "../../cmd/run.ts";
import { startServe, type Served } from "../harness.ts";

const examples = new URL("../../examples/", import.meta.url).pathname;

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(() => served[Symbol.asyncDispose]());

/** Splits a shell line into words, honouring single quotes (all the hints use). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** The fetch a curl line describes: -X method, -H headers, -d body, the URL; -N, -i change nothing here. */
function request(line: string): { url: string; init: RequestInit } {
  const [curl, ...rest] = words(line);
  expect(curl).toBe("curl");
  const headers: Record<string, string> = {};
  let method: string | undefined;
  let body: string | undefined;
  let url = "";
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (w === "-X") method = rest[++i];
    else if (w === "-H") {
      const [k, ...v] = rest[++i]!.split(":");
      headers[k!.trim()] = v.join(":").trim();
    } else if (w === "-d") body = rest[++i];
    else if (w === "-N" || w === "-i") continue;
    else if (w.startsWith("-")) throw new Error(`the hint uses ${w}, which this test does not know`);
    else url = w;
  }
  return { url, init: { method: method ?? (body === undefined ? "GET" : "POST"), headers, body } };
}

for (const file of readdirSync(examples).filter((f) => f.endsWith(".ts")).sort()) {
  test(`examples/${file}: what tsserve run prints to try it works`, async () => {
    const mod = (await import(join(examples, file))) as { app?: Application };
    expect(mod.app).toBeDefined();
    const name = `hint-${file.replace(/\W/g, "-")}`;
    await serve.run(mod.app!, { name, routePrefix: "/" });
    try {
      const hint = curlHint(join(examples, file), `${served.url}/`);
      if (hint === undefined) {
        expect(readFileSync(join(examples, file), "utf8")).toContain(`//   npx bun examples/${file}   ->  `);
        return;
      }
      const { url, init } = request(hint);
      const res = await fetch(url, init);
      const text = await res.text();
      expect({ hint, status: res.status }).toEqual({ hint, status: 200 });
      expect(text.length).toBeGreaterThan(0);
    } finally {
      await serve.delete(name);
    }
  });
}

test("a hint follows the app's route prefix, and a module with no curl line gets a plain GET", () => {
  const file = join(examples, "greeting_api.ts");
  expect(curlHint(file, "http://127.0.0.1:9000/api")).toBe("curl http://127.0.0.1:9000/api/hello/Dora");
  expect(curlHint(join(examples, "calculator.ts"), "http://127.0.0.1:9000/calc")).toBe(`curl -X POST http://127.0.0.1:9000/calc -d '{"x": 5}'`);
  expect(curlHint(join(examples, "chain.ts"), "http://127.0.0.1:9000/")).toBeUndefined();
  expect(curlHint(new URL("../fixtures/http_apps.ts", import.meta.url).pathname, "http://127.0.0.1:9000/")).toBe("curl http://127.0.0.1:9000/");
});
