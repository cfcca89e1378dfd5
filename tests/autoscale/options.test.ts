// autoscalingConfig and numReplicas: "auto" as the user writes them: defaults, and the
// messages for what is not allowed (API.md section 1).
import { describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { resolveOptions } from "../../sdk/options.ts";

class Model {
  call() {}
}

describe("autoscalingConfig", () => {
  test('numReplicas: "auto" means minReplicas 1, maxReplicas 100, targetOngoingRequests 2', () => {
    expect(resolveOptions({ numReplicas: "auto" }).autoscalingConfig).toEqual({ minReplicas: 1, maxReplicas: 100, targetOngoingRequests: 2 });
  });

  test('an autoscalingConfig makes numReplicas "auto"', () => {
    expect(resolveOptions({ autoscalingConfig: { maxReplicas: 3 } }).numReplicas).toBe("auto");
  });

  test.each([
    [{ numReplicas: 2, autoscalingConfig: { maxReplicas: 3 } }, 'numReplicas (2) cannot be set together with autoscalingConfig; use numReplicas: "auto" or drop one of them'],
    [{ autoscalingConfig: { minReplicas: 3, maxReplicas: 2 } }, "autoscalingConfig: minReplicas (3) must be <= maxReplicas (2)"],
    [{ autoscalingConfig: { minReplicas: 1, maxReplicas: 4, initialReplicas: 5 } }, "autoscalingConfig: initialReplicas (5) must be between minReplicas (1) and maxReplicas (4)"],
    [{ autoscalingConfig: { maxReplicas: 0 } }, "autoscalingConfig.maxReplicas must be an integer >= 1, got 0"],
    [{ autoscalingConfig: { minReplicas: 1.5 } }, "autoscalingConfig.minReplicas must be an integer >= 0, got 1.5"],
    [{ autoscalingConfig: { targetOngoingRequests: 0 } }, "autoscalingConfig.targetOngoingRequests must be a number > 0, got 0"],
    [{ autoscalingConfig: { upscaleDelayMs: -1 } }, "autoscalingConfig.upscaleDelayMs must be a number of milliseconds >= 0, got -1"],
    [{ autoscalingConfig: { upscalingFactor: 0 } }, "autoscalingConfig.upscalingFactor must be a number > 0, got 0"],
    [{ autoscalingConfig: { maxReplica: 3 } }, 'unknown autoscalingConfig option "maxReplica" (did you mean "maxReplicas"?); known options: minReplicas, maxReplicas'],
  ])("%j throws: %s", (options, message) => {
    expect(() => serve.deployment(Model, options as never)).toThrow(message);
  });

  test("minReplicas 0 with a downscaleToZeroDelayMs is allowed", () => {
    expect(() => serve.deployment(Model, { autoscalingConfig: { minReplicas: 0, maxReplicas: 2, downscaleToZeroDelayMs: 100 } })).not.toThrow();
  });
});
