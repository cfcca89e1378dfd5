/**
 * What a caller thread (the main thread, or a replica holding handles) counts: calls made
 * through handles, per target deployment, and the requests waiting in its queues.
 */
import type { HandleTarget } from "../../sdk/runtime.ts";
import { handles } from "./builtin.ts";
import { switches } from "./switch.ts";
import type { CounterSeries } from "./tally.ts";

/** By target object: a handle reuses one for all its calls, so this is one WeakMap hit per call. */
const byTarget = new WeakMap<HandleTarget, CounterSeries>();
/** Targets are also made afresh (getDeploymentHandle): one series per deployment all the same. */
const byKey = new Map<string, CounterSeries>();

/** A call went out through a handle. */
export function handleCalled(target: HandleTarget): void {
  if (!switches.counting) return;
  let s = byTarget.get(target);
  if (!s) {
    const key = `${target.appName}/${target.deploymentName}`;
    s = byKey.get(key);
    if (!s) byKey.set(key, (s = handles.requests.series({ application: target.appName, deployment: target.deploymentName })));
    byTarget.set(target, s);
  }
  s.value++;
}

/** Where the queued-requests gauge reads this thread's queues: `[appName, deploymentName, queued]` rows. */
export function readQueues(read: () => Iterable<[string, string, number]>): void {
  handles.queued.read = function* () {
    for (const [application, deployment, n] of read()) yield [{ application, deployment }, n];
  };
}
