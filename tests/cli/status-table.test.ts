import { expect, test } from "bun:test";
import { statusTable } from "../../cmd/status.ts";
import type { ServeStatus } from "tsserve";

const status = (deployments: ServeStatus["applications"][string]["deployments"]): ServeStatus => ({
  proxy: { url: "http://127.0.0.1:8000", status: "HEALTHY" },
  applications: { app: { status: "RUNNING", message: "", routePrefix: "/", deployments } },
});

test("the status table shows an autoscaled deployment's target, current replicas and range", () => {
  const text = statusTable(status({
    Model: {
      status: "UPSCALING", message: "", replicaStates: { RUNNING: 2, STARTING: 1 }, replicas: [],
      targetReplicas: 3, currentReplicas: 2,
      autoscaling: { totalRequests: 7, minReplicas: 0, maxReplicas: 8, lastDecision: null },
    },
    Fixed: { status: "HEALTHY", message: "", replicaStates: { RUNNING: 1 }, replicas: [], targetReplicas: 1, currentReplicas: 1 },
  }));
  expect(text).toMatch(/ {2}Model\s+UPSCALING\s+RUNNING 2, STARTING 1 \(target 3, current 2, auto 0-8\)/);
  expect(text).toMatch(/ {2}Fixed\s+HEALTHY\s+RUNNING 1\s*$/m);
});

test("the status table lists the model ids each replica of a multiplexed deployment holds", () => {
  const replica = (id: string, models: string[]) => ({ replicaId: `app#Multi#${id}`, state: "RUNNING" as const, multiplexedModelIds: models });
  const text = statusTable(status({
    Multi: {
      status: "HEALTHY", message: "", replicaStates: { RUNNING: 2 }, targetReplicas: 2, currentReplicas: 2,
      replicas: [replica("a1", ["en", "fr"]), replica("b2", [])],
    },
    Plain: { status: "HEALTHY", message: "", replicaStates: { RUNNING: 1 }, replicas: [replica("c3", [])], targetReplicas: 1, currentReplicas: 1 },
  }));
  const lines = text.split("\n");
  const multi = lines.findIndex((l) => /^ {2}Multi\s/.test(l));
  expect(lines[multi + 1]).toMatch(/^ {4}a1\s+RUNNING\s+models en, fr$/);
  expect(lines[multi + 2]).toMatch(/^ {4}b2\s+RUNNING\s+no models$/);
  expect(lines[multi + 3]).toMatch(/^ {2}Plain\s/);
  expect(text).not.toContain("c3");
});
