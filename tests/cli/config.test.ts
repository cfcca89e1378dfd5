/** The config schema: defaults, and messages that name the file and the key path. */
import { describe, expect, test } from "bun:test";
import { type AppSpec } from "../../sdk/graph.ts";
import { resolveOptions } from "../../sdk/options.ts";
import { splitImportPath, validateConfig, withOverrides } from "../../runtime/admin/index.ts";

const check = (value: unknown) => () => validateConfig(value, "serve.yaml");
const app = (extra: Record<string, unknown> = {}) => ({ importPath: "./app.ts", ...extra });

describe("validateConfig", () => {
  test("fills in defaults", () => {
    expect(validateConfig({ applications: [app()] }, "serve.yaml")).toEqual({
      applications: [{ name: "default", routePrefix: "/", importPath: "./app.ts", args: {}, deployments: [] }],
    });
  });

  test("keeps http, admin, args, overrides and a null route prefix", () => {
    const c = validateConfig(
      {
        http: { host: "0.0.0.0", port: 0, requestTimeoutMs: null },
        admin: { port: 9000 },
        applications: [app({ name: "a", routePrefix: null, args: { n: 1 }, deployments: [{ name: "M", numReplicas: "auto", userConfig: { f: 3 } }] })],
      },
      "serve.yaml",
    );
    expect(c.http).toEqual({ host: "0.0.0.0", port: 0, requestTimeoutMs: null });
    expect(c.admin).toEqual({ port: 9000 });
    expect(c.applications[0]).toEqual({ name: "a", routePrefix: null, importPath: "./app.ts", args: { n: 1 }, deployments: [{ name: "M", numReplicas: "auto", userConfig: { f: 3 } }] });
  });

  test("unknown keys, at every level", () => {
    expect(check({ applications: [], proxy: 1 })).toThrow("serve.yaml: proxy is not a known key; allowed keys: http, admin, logging, applications");
    expect(check({ http: { prot: 1 }, applications: [] })).toThrow('serve.yaml: http.prot is not a known key (did you mean "port"?); allowed keys in http: host, port, requestTimeoutMs, maxWebSocketMessageBytes');
    expect(check({ applications: [app({ route_prefix: "/" })] })).toThrow("serve.yaml: applications[0].route_prefix is not a known key");
    expect(check({ applications: [app({ deployments: [{ name: "A", replicas: 2 }] })] })).toThrow(
      "serve.yaml: applications[0].deployments[0].replicas is not a known key",
    );
    expect(check({ applications: [app({ deployments: [{ name: "A", autoscalingConfig: { max: 2 } }] })] })).toThrow(
      'serve.yaml: applications[0].deployments[0]: unknown autoscalingConfig option "max"',
    );
  });

  test("wrong types", () => {
    expect(check([])).toThrow("serve.yaml: must be a mapping of http, admin, logging, applications, got a list");
    expect(check({})).toThrow("serve.yaml: applications is required");
    expect(check({ applications: {} })).toThrow("serve.yaml: applications must be a list, got a mapping");
    expect(check({ http: { port: "80" }, applications: [] })).toThrow('serve.yaml: http.port must be an integer from 0 to 65535, got "80"');
    expect(check({ http: { requestTimeoutMs: 0 }, applications: [] })).toThrow("serve.yaml: http.requestTimeoutMs must be a number of milliseconds > 0, or null");
    expect(check({ http: { maxWebSocketMessageBytes: 0.5 }, applications: [] })).toThrow("serve.yaml: http.maxWebSocketMessageBytes must be an integer >= 1 (bytes), got 0.5");
    expect(check({ applications: [{ name: "a" }] })).toThrow("serve.yaml: applications[0].importPath is required");
    expect(check({ applications: [app({ importPath: 3 })] })).toThrow("serve.yaml: applications[0].importPath must be a non-empty string, got 3");
    expect(check({ applications: [app({ args: [1] })] })).toThrow("serve.yaml: applications[0].args must be a mapping");
    expect(check({ applications: [app({ routePrefix: "/a/" })] })).toThrow('serve.yaml: applications[0].routePrefix must not end with "/"');
    expect(check({ applications: [app({ deployments: [{ numReplicas: 2 }] })] })).toThrow("serve.yaml: applications[0].deployments[0].name is required");
    expect(check({ applications: [app({ deployments: [{ name: "A", numReplicas: 0 }] })] })).toThrow(
      'serve.yaml: applications[0].deployments[0].numReplicas must be an integer >= 1 or "auto", got 0',
    );
    expect(check({ applications: [app({ deployments: [{ name: "A", maxOngoingRequests: "5" }] })] })).toThrow(
      "serve.yaml: applications[0].deployments[0].maxOngoingRequests must be an integer >= 1",
    );
  });

  test("duplicate app names, route prefixes and deployment overrides", () => {
    expect(check({ applications: [app({ name: "a", routePrefix: "/a" }), app({ name: "a", routePrefix: "/b" })] })).toThrow(
      'serve.yaml: applications[1].name "a" is already the name of applications[0]',
    );
    expect(check({ applications: [app({ name: "a", routePrefix: "/x" }), app({ name: "b", routePrefix: "/x" })] })).toThrow(
      'serve.yaml: applications[1].routePrefix "/x" is already the route prefix of applications[0] ("a")',
    );
    expect(check({ applications: [app({ deployments: [{ name: "A" }, { name: "A" }] })] })).toThrow(
      'serve.yaml: applications[0].deployments[1].name "A" is already overridden by applications[0].deployments[0]',
    );
    // Two apps without a route are fine.
    expect(check({ applications: [app({ name: "a", routePrefix: null }), app({ name: "b", routePrefix: null })] })).not.toThrow();
  });
});

describe("withOverrides", () => {
  const spec = (): AppSpec => ({
    name: "app",
    routePrefix: "/",
    ingress: "Ingress",
    deployments: ["Model", "Ingress"].map((name) => ({
      name,
      source: { file: "/x.ts", key: "1:1" },
      kind: "class" as const,
      options: resolveOptions({ numReplicas: 2 }),
      givenOptions: { numReplicas: 2, maxOngoingRequests: 7 },
      args: [],
      handles: [],
      reconfigurable: name === "Model",
    })),
  });

  test("lays the config's options over the code's", () => {
    const s = withOverrides(spec(), [{ name: "Model", userConfig: { f: 3 } }], "serve.yaml: applications[0]");
    expect(s.deployments[0]!.options).toMatchObject({ numReplicas: 2, maxOngoingRequests: 7, userConfig: { f: 3 } });
    expect(s.deployments[1]!.options.userConfig).toBeUndefined();
  });

  test("autoscaling in the config replaces a fixed count in code", () => {
    const s = withOverrides(spec(), [{ name: "Model", autoscalingConfig: { minReplicas: 1, maxReplicas: 4 } }], "x");
    expect(s.deployments[0]!.options.numReplicas).toBe("auto");
    expect(s.deployments[0]!.options.autoscalingConfig).toEqual({ minReplicas: 1, maxReplicas: 4 });
  });

  test("userConfig for a deployment without reconfigure is refused before deploying", () => {
    expect(() => withOverrides(spec(), [{ name: "Ingress", userConfig: { f: 1 } }], "serve.yaml: applications[0]")).toThrow(
      'serve.yaml: applications[0].deployments[0].userConfig: deployment "Ingress" has no reconfigure(userConfig) method; add one to it or remove userConfig',
    );
  });

  test("a deployment the app does not have", () => {
    expect(() => withOverrides(spec(), [{ name: "Nope" }], "serve.yaml: applications[0]")).toThrow(
      'serve.yaml: applications[0].deployments[0].name: application "app" has no deployment named "Nope"; its deployments: Model, Ingress',
    );
  });
});

test("splitImportPath", () => {
  expect(splitImportPath("./app.ts:app")).toEqual({ file: "./app.ts", exportName: "app" });
  expect(splitImportPath("/abs/app.ts")).toEqual({ file: "/abs/app.ts", exportName: undefined });
  expect(splitImportPath("C:\\apps\\app.ts")).toEqual({ file: "C:\\apps\\app.ts", exportName: undefined });
});
