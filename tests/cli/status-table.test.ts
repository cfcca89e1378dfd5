import { expect, test } from "bun:test";
import { statusTable } from "../../cmd/status.ts";
import type { ServeStatus } from "tsserve";

const status = (deployments: ServeStatus["applications"][string]["deployments"]): ServeStatus => ({
  proxy: { url: "http://127.0.0.1:8000", status: "HEALTHY" },
  applications: { app: { status: "RUNNING", message: "", routePrefix: "/", deployments } },
});

test("the status table shows an autoscaled deployment's target and range", () => {
  const text = statusTable(status({
    Model: {
      status: "UPSCALING", message: "", replicaStates: { RUNNING: 2, STARTING: 1 }, replicas: [],
      targetReplicas: 3, currentReplicas: 2,
      autoscaling: { totalRequests: 7, minReplicas: 0, maxReplicas: 8, lastDecision: null },
    },
    Fixed: { status: "HEALTHY", message: "", replicaStates: { RUNNING: 1 }, replicas: [], targetReplicas: 1, currentReplicas: 1 },
  }));
  expect(text).toMatch(/ {2}Model\s+UPSCALING\s+RUNNING 2, STARTING 1 \(target 3, auto 0-8\)/);
  expect(text).toMatch(/ {2}Fixed\s+HEALTHY\s+RUNNING 1\s*$/m);
});
