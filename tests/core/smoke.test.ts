import { expect, test } from "bun:test";
import { serve } from "tsserve";
import { startServe } from "../harness.ts";
import { app } from "../../examples/hello.ts";

test("hello example answers over HTTP", async () => {
  await using s = await startServe();
  await serve.run(app);
  const res = await fetch(s.url + "/", { method: "POST", body: JSON.stringify({ language: "spanish", name: "Dora" }) });
  expect(res.status).toBe(200);
  expect(await res.text()).toBe("Hola Dora");
  expect(res.headers.get("x-request-id")).toBeTruthy();
  const fr = await fetch(s.url + "/", { method: "POST", body: JSON.stringify({ language: "french", name: "Dora" }) });
  expect(await fr.text()).toBe("Bonjour Dora");
  // A GET has no JSON body: the ingress throws, the client sees a plain 500.
  const bad = await fetch(s.url + "/nope/x");
  expect(bad.status).toBe(500);
  expect(await bad.text()).toBe("Internal Server Error");
});
