// Every example in examples/ runs, over its handle and (for HTTP ingresses) over HTTP.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import * as chain from "../../examples/chain.ts";
import * as conditionalRouter from "../../examples/conditional_router.ts";
import * as cors from "../../examples/cors.ts";
import * as elysiaIngress from "../../examples/elysia_ingress.ts";
import * as ensemble from "../../examples/ensemble.ts";
import * as hello from "../../examples/hello.ts";
import * as helloWorld from "../../examples/hello_world.ts";
import * as mostBasicIngress from "../../examples/most_basic_ingress.ts";
import * as myFirstDeployment from "../../examples/my_first_deployment.ts";
import * as tokenizerClassifier from "../../examples/tokenizer_classifier.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

test("MyFirstDeployment answers Hello world!", async () => {
  await using app = await deployed(myFirstDeployment.app, { name: "ex-first" });
  expect(await app.handle.remote()).toBe("Hello world!");
});

test("Hello + World + Ingress answers Hello world!", async () => {
  await using app = await deployed(helloWorld.app, { name: "ex-hello-world" });
  expect(await app.handle.remote()).toBe("Hello world!");
});

test("Hello + World + Ingress answers Hello world! over HTTP", async () => {
  await using _ = await deployed(helloWorld.app, { name: "ex-hello-world-http", routePrefix: "/" });
  expect(await (await fetch(`${served.url}/`)).text()).toBe("Hello world!");
});

test("MostBasicIngress answers Hello {name}! from a JSON body", async () => {
  await using _ = await deployed(mostBasicIngress.app, { name: "ex-basic", routePrefix: "/" });
  const res = await fetch(`${served.url}/`, { method: "POST", body: JSON.stringify({ name: "Corey" }) });
  expect(res.status).toBe(200);
  expect(await res.text()).toBe("Hello Corey!");
});

test("the Elysia ingress (the seed's FastAPI example) answers GET /Corey with Hello Corey!", async () => {
  await using _ = await deployed(elysiaIngress.app, { name: "ex-elysia", routePrefix: "/" });
  const res = await fetch(`${served.url}/Corey`);
  expect(res.status).toBe(200);
  expect(await res.text()).toBe("Hello Corey!");
});

test("the ensemble averages its two models", async () => {
  await using app = await deployed(ensemble.app, { name: "ex-ensemble" });
  expect(await app.handle.remote(1)).toBe(0.5);
  expect(await app.handle.remote(4)).toBe(2);
});

test("the conditional router sends urgent requests to the fast model", async () => {
  await using app = await deployed(conditionalRouter.app, { name: "ex-router-fast" });
  expect(await app.handle.remote({ urgent: true, text: "now" })).toBe("fast: now");
});

test("the conditional router sends other requests to the slow model", async () => {
  await using app = await deployed(conditionalRouter.app, { name: "ex-router-slow" });
  expect(await app.handle.remote({ urgent: false, text: "later" })).toBe("slow: later");
});

test("Tokenizer -> Classifier classifies text", async () => {
  await using app = await deployed(tokenizerClassifier.app, { name: "ex-classifier" });
  expect(await app.handle.remote("I love this, it is great")).toBe("positive");
  expect(await app.handle.remote("awful, just terrible")).toBe("negative");
  expect(await app.handle.remote("a chair")).toBe("neutral");
});

test("the chain example answers (5 + 1) * 2 = 12", async () => {
  await using app = await deployed(chain.app, { name: "ex-chain" });
  expect(await app.handle.remote(5)).toBe(12);
});

test("the LanguageClassifier example answers in Spanish and French over HTTP", async () => {
  await using _ = await deployed(hello.app, { name: "ex-hello", routePrefix: "/" });
  const post = (body: unknown) => fetch(`${served.url}/`, { method: "POST", body: JSON.stringify(body) }).then((r) => r.text());
  expect(await post({ language: "spanish", name: "Dora" })).toBe("Hola Dora");
  expect(await post({ language: "french", name: "Dora" })).toBe("Bonjour Dora");
  expect(await post({ language: "german", name: "Dora" })).toBe("Please try again.");
});

test("CORS without Elysia: the class answers the preflight and allows only its page's origin", async () => {
  await using _ = await deployed(cors.plainApp, { name: "ex-cors-plain", routePrefix: "/" });
  const page = "http://localhost:5173";
  const preflight = await fetch(`${served.url}/time`, { method: "OPTIONS", headers: { origin: page, "access-control-request-method": "POST" } });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get("access-control-allow-origin")).toBe(page);
  expect(preflight.headers.get("access-control-allow-methods")).toBe("GET, POST");
  const allowed = await fetch(`${served.url}/time`, { headers: { origin: page } });
  expect(allowed.headers.get("access-control-allow-origin")).toBe(page);
  expect(typeof ((await allowed.json()) as { now: number }).now).toBe("number");
  const other = await fetch(`${served.url}/time`, { headers: { origin: "http://elsewhere.example" } });
  expect(other.headers.get("access-control-allow-origin")).toBeNull();
});

test("CORS with Elysia: @elysiajs/cors allows only the page's origin, event streams included", async () => {
  await using _ = await deployed(cors.app, { name: "ex-cors-elysia", routePrefix: "/" });
  const page = "http://localhost:5173";
  const ticks = await fetch(`${served.url}/ticks`, { headers: { origin: page } });
  expect(ticks.headers.get("access-control-allow-origin")).toBe(page);
  expect(await ticks.text()).toBe("data: 1\n\ndata: 2\n\ndata: 3\n\n");
  const other = await fetch(`${served.url}/time`, { headers: { origin: "http://elsewhere.example" } });
  expect(other.headers.get("access-control-allow-origin")).toBeNull();
});
