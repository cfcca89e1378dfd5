// The autoscaling policy alone (runtime/controller/autoscaler.ts): Ray Serve's default policy,
// driven with explicit times, no replicas.
import { describe, expect, test } from "bun:test";
import { Autoscaler, desiredReplicas, pickToStop, resolveAutoscaling } from "../../runtime/controller/autoscaler.ts";
import type { AutoscalingConfig } from "tsserve";

const quick: AutoscalingConfig = { minReplicas: 1, maxReplicas: 10, targetOngoingRequests: 2, upscaleDelayMs: 0, downscaleDelayMs: 0, lookBackPeriodMs: 0 };

/** Records `total` at `now` and decides with `running` replicas (the target, unless given). */
function step(a: Autoscaler, now: number, total: number, running = a.target): number {
  a.record(now, total);
  return a.decide(now, running, 1_000_000 + now);
}

describe("defaults", () => {
  test("API.md's defaults, with downscaleToZeroDelayMs falling back to downscaleDelayMs", () => {
    expect(resolveAutoscaling({})).toEqual({
      minReplicas: 1,
      maxReplicas: 1,
      initialReplicas: 1,
      targetOngoingRequests: 2,
      upscaleDelayMs: 30_000,
      downscaleDelayMs: 600_000,
      downscaleToZeroDelayMs: 600_000,
      lookBackPeriodMs: 30_000,
      upscalingFactor: 1,
      downscalingFactor: 1,
    });
    expect(resolveAutoscaling({ minReplicas: 3 }).maxReplicas).toBe(3);
    expect(resolveAutoscaling({ minReplicas: 0, maxReplicas: 4 }).initialReplicas).toBe(0);
    expect(resolveAutoscaling({ downscaleDelayMs: 5, downscaleToZeroDelayMs: 9 }).downscaleToZeroDelayMs).toBe(9);
  });

  test("the target starts at initialReplicas, else minReplicas", () => {
    expect(new Autoscaler({ minReplicas: 1, maxReplicas: 5, initialReplicas: 3 }).target).toBe(3);
    expect(new Autoscaler({ minReplicas: 2, maxReplicas: 5 }).target).toBe(2);
    expect(new Autoscaler({ minReplicas: 0, maxReplicas: 5 }).target).toBe(0);
  });
});

describe("desired replicas: ceil(running x (1 + (total / (target x running) - 1) x factor))", () => {
  const c = resolveAutoscaling({ ...quick, maxReplicas: 100 });
  test("load at target keeps the count", () => {
    expect(desiredReplicas(c, 8, 4)).toBe(4);
    expect(desiredReplicas(c, 7.9, 4)).toBe(4);
  });
  test("load above target scales in proportion", () => {
    expect(desiredReplicas(c, 8, 2)).toBe(4);
    expect(desiredReplicas(c, 9, 2)).toBe(5);
  });
  test("load below target scales down in proportion", () => {
    expect(desiredReplicas(c, 2, 4)).toBe(1);
    expect(desiredReplicas(c, 5, 4)).toBe(3);
  });
  test("upscalingFactor and downscalingFactor damp the change", () => {
    expect(desiredReplicas({ ...c, upscalingFactor: 0.5 }, 8, 2)).toBe(3); // ceil(2 x 1.5)
    expect(desiredReplicas({ ...c, downscalingFactor: 0.5 }, 2, 4)).toBe(3); // ceil(4 x 0.625)
  });
  test("no load with a small downscalingFactor still steps down by one", () => {
    expect(desiredReplicas({ ...c, downscalingFactor: 0.1 }, 0, 3)).toBe(2);
  });
  test("clamped to [minReplicas, maxReplicas]", () => {
    expect(desiredReplicas({ ...c, maxReplicas: 3 }, 100, 2)).toBe(3);
    expect(desiredReplicas({ ...c, minReplicas: 2 }, 0, 4)).toBe(2);
    expect(desiredReplicas({ ...c, minReplicas: 0 }, 0, 1)).toBe(0);
  });
});

describe("the metric is averaged over lookBackPeriodMs", () => {
  test("samples older than the window drop out", () => {
    const a = new Autoscaler({ ...quick, lookBackPeriodMs: 1000 });
    a.record(0, 10);
    a.record(500, 0);
    expect(a.average()).toBe(5);
    a.record(1200, 0);
    expect(a.average()).toBe(0);
  });

  test("a short spike inside a long window does not scale up; with no window it does", () => {
    const windowed = new Autoscaler({ ...quick, lookBackPeriodMs: 1000 });
    const instant = new Autoscaler({ ...quick, lookBackPeriodMs: 0 });
    for (let t = 0; t < 900; t += 100) {
      step(windowed, t, 0);
      step(instant, t, 0);
    }
    expect(step(windowed, 900, 6)).toBe(1); // average 0.6
    expect(step(instant, 900, 6)).toBe(3);
  });
});

describe("delays", () => {
  test("a scale-up acts only after it held for upscaleDelayMs", () => {
    const a = new Autoscaler({ ...quick, upscaleDelayMs: 300 });
    expect(step(a, 0, 8)).toBe(1);
    expect(step(a, 100, 8)).toBe(1);
    expect(step(a, 200, 8)).toBe(1);
    expect(step(a, 300, 8)).toBe(4);
    expect(a.lastDecision).toMatchObject({ at: 1_000_300, from: 1, to: 4, totalRequests: 8 });
    expect(a.lastDecision!.reason).toContain("above target for 300 ms");
  });

  test("a proposal that lapses starts its delay again", () => {
    const a = new Autoscaler({ ...quick, upscaleDelayMs: 300 });
    step(a, 0, 8);
    step(a, 200, 2); // back at target: the proposal is dropped
    expect(step(a, 300, 8)).toBe(1);
    expect(step(a, 500, 8)).toBe(1);
    expect(step(a, 600, 8)).toBe(4);
  });

  test("a scale-down acts after downscaleDelayMs, and the last step to zero after downscaleToZeroDelayMs", () => {
    const a = new Autoscaler({ ...quick, minReplicas: 0, initialReplicas: 3, downscaleDelayMs: 200, downscaleToZeroDelayMs: 1000 });
    expect(step(a, 0, 0)).toBe(3);
    expect(step(a, 100, 0)).toBe(3);
    // Down to one first, never straight to zero.
    expect(step(a, 200, 0)).toBe(1);
    expect(step(a, 300, 0)).toBe(1);
    expect(step(a, 1200, 0)).toBe(1);
    expect(step(a, 1300, 0)).toBe(0);
    expect(a.lastDecision).toMatchObject({ from: 1, to: 0 });
  });

  test("without downscaleToZeroDelayMs the last step waits downscaleDelayMs", () => {
    const a = new Autoscaler({ ...quick, minReplicas: 0, downscaleDelayMs: 200 });
    a.target = 1;
    expect(step(a, 0, 0)).toBe(1);
    expect(step(a, 199, 0)).toBe(1);
    expect(step(a, 200, 0)).toBe(0);
  });
});

describe("scale from zero", () => {
  test("any demand at zero replicas starts one at once, whatever the delays", () => {
    const a = new Autoscaler({ ...quick, minReplicas: 0, upscaleDelayMs: 60_000 });
    expect(step(a, 0, 0, 0)).toBe(0);
    expect(step(a, 100, 1, 0)).toBe(1);
    expect(a.lastDecision).toMatchObject({ from: 0, to: 1, reason: "requests arrived with no replicas" });
  });

  test("while replicas are starting (none running) nothing else is decided", () => {
    const a = new Autoscaler({ ...quick, minReplicas: 0 });
    step(a, 0, 1, 0);
    expect(step(a, 100, 50, 0)).toBe(1);
    expect(step(a, 200, 50, 1)).toBe(10);
  });
});

describe("steady load", () => {
  test("load that wobbles around the target never changes the count", () => {
    const a = new Autoscaler({ ...quick, initialReplicas: 3, lookBackPeriodMs: 500, upscaleDelayMs: 100, downscaleDelayMs: 300 });
    // Six callers with one request each, sampled between requests: 5 to 6 in the system.
    for (let t = 0; t < 20_000; t += 100) expect(step(a, t, t % 300 === 0 ? 5 : 6)).toBe(3);
    expect(a.lastDecision).toBeNull();
  });
});

describe("reconfigure", () => {
  test("keeps the target within the new bounds", () => {
    const a = new Autoscaler({ ...quick, initialReplicas: 5 });
    a.reconfigure({ ...quick, maxReplicas: 3 });
    expect(a.target).toBe(3);
    a.reconfigure({ ...quick, minReplicas: 4, maxReplicas: 6 });
    expect(a.target).toBe(4);
  });

  test("a deployment that becomes autoscaled keeps its replicas, within bounds", () => {
    expect(new Autoscaler({ minReplicas: 1, maxReplicas: 5 }, 3).target).toBe(3);
    expect(new Autoscaler({ minReplicas: 1, maxReplicas: 2 }, 3).target).toBe(2);
  });
});

describe("which replicas a scale-down stops", () => {
  test("starting replicas first, then the newest running ones; never a stopping one", () => {
    const rs = [
      { id: "a", state: "RUNNING" },
      { id: "b", state: "STARTING" },
      { id: "c", state: "RUNNING" },
      { id: "d", state: "STOPPING" },
      { id: "e", state: "STARTING" },
    ];
    expect(pickToStop(rs, 1).map((r) => r.id)).toEqual(["e"]);
    expect(pickToStop(rs, 2).map((r) => r.id)).toEqual(["e", "b"]);
    expect(pickToStop(rs, 3).map((r) => r.id)).toEqual(["e", "b", "c"]);
    expect(pickToStop(rs, 9).map((r) => r.id)).toEqual(["e", "b", "c", "a"]);
  });
});
