import { expect, test } from "bun:test";
import { elapsed, Progress, type ProgressView } from "../../cmd/progress.ts";

const view = (states: Record<string, number>, status = "UPDATING"): ProgressView => ({
  targets: { app: { Model: 2 } },
  applications: {
    app: {
      status: "DEPLOYING", message: "", routePrefix: "/",
      deployments: { Model: { status: status as never, message: "", replicaStates: states, replicas: [], targetReplicas: 2, currentReplicas: states.RUNNING ?? 0 } },
    },
  },
});

test("progress lines carry the time since the deploy began, and repeat while a replica is slow to start", () => {
  let now = 1_000_000;
  const lines: string[] = [];
  const p = new Progress(["app"], 5000, (l) => lines.push(l.replace(/\x1b\[[0-9;]*m/g, "")), () => now);
  p.update(view({ STARTING: 2 }));
  now += 1200;
  p.update(view({ STARTING: 2 })); // unchanged, too soon: nothing
  now += 4000;
  p.update(view({ STARTING: 2 })); // unchanged, but 5 s on: printed again
  now += 30_000;
  p.update(view({ RUNNING: 1, STARTING: 1 }));
  now += 100;
  p.update(view({ RUNNING: 2 }, "HEALTHY"));
  now += 60_000;
  p.update(view({ RUNNING: 2 }, "HEALTHY")); // all ready: never repeated
  expect(lines).toEqual([
    "  app/Model: 0/2 replicas ready (STARTING 2) 0.0s",
    "  app/Model: 0/2 replicas ready (STARTING 2) 5.2s",
    "  app/Model: 1/2 replicas ready (STARTING 1) 35s",
    "  app/Model: 2/2 replicas ready 35s",
  ]);
});

test("elapsed reads as seconds, then minutes", () => {
  expect(elapsed(400)).toBe("0.4s");
  expect(elapsed(12_345)).toBe("12s");
  expect(elapsed(125_000)).toBe("2m05s");
});
