/**
 * The autoscaling policy, Ray Serve's default: how many replicas a deployment wants, from the
 * requests queued at its callers plus those ongoing at its replicas, averaged over a look-back
 * window; a change must hold for a delay before it acts. Pure: time comes in as arguments, so
 * the policy reads and tests alone. The controller feeds it samples and applies its target.
 */
import type { AutoscalingConfig } from "../../sdk/options.ts";
import type { AutoscalingDecision } from "../../sdk/status.ts";

/** An autoscaling config with every default filled in (API.md section 1). */
export interface ResolvedAutoscaling {
  minReplicas: number;
  maxReplicas: number;
  initialReplicas: number;
  targetOngoingRequests: number;
  upscaleDelayMs: number;
  downscaleDelayMs: number;
  /** For the last step, 1 -> 0; `downscaleDelayMs` when not set. */
  downscaleToZeroDelayMs: number;
  lookBackPeriodMs: number;
  upscalingFactor: number;
  downscalingFactor: number;
}

export function resolveAutoscaling(c: AutoscalingConfig = {}): ResolvedAutoscaling {
  const minReplicas = c.minReplicas ?? 1;
  const downscaleDelayMs = c.downscaleDelayMs ?? 600_000;
  return {
    minReplicas,
    maxReplicas: c.maxReplicas ?? Math.max(1, minReplicas),
    initialReplicas: c.initialReplicas ?? minReplicas,
    targetOngoingRequests: c.targetOngoingRequests ?? 2,
    upscaleDelayMs: c.upscaleDelayMs ?? 30_000,
    downscaleDelayMs,
    downscaleToZeroDelayMs: c.downscaleToZeroDelayMs ?? downscaleDelayMs,
    lookBackPeriodMs: c.lookBackPeriodMs ?? 30_000,
    upscalingFactor: c.upscalingFactor ?? 1,
    downscalingFactor: c.downscalingFactor ?? 1,
  };
}

const clamp = (c: ResolvedAutoscaling, n: number): number => Math.min(c.maxReplicas, Math.max(c.minReplicas, n));

/** The replicas an autoscaled deployment starts with. */
export function startingReplicas(config: AutoscalingConfig | undefined): number {
  const c = resolveAutoscaling(config);
  return clamp(c, c.initialReplicas);
}

/**
 * Ray's formula: ceil(running x (1 + (total / (target x running) - 1) x factor)), the factor
 * being `upscalingFactor` when the load is above target and `downscalingFactor` below it,
 * clamped to [minReplicas, maxReplicas]. `running` must be >= 1.
 */
export function desiredReplicas(c: ResolvedAutoscaling, totalRequests: number, running: number): number {
  const ratio = totalRequests / (c.targetOngoingRequests * running);
  const factor = ratio >= 1 ? c.upscalingFactor : c.downscalingFactor;
  let desired = Math.ceil(running * (1 + (ratio - 1) * factor));
  // With no load at all and a small factor, ceil() would hold the count forever: step down.
  if (ratio === 0 && desired === running && desired >= 1) desired--;
  return clamp(c, desired);
}

/**
 * One deployment's autoscaling state: the samples in the look-back window, the target, and a
 * proposal waiting out its delay. `now` is in ms on any monotonic clock; decisions carry
 * wall-clock times for status.
 */
export class Autoscaler {
  config: ResolvedAutoscaling;
  target: number;
  lastDecision: AutoscalingDecision | null = null;
  #samples: { at: number; value: number }[] = [];
  /** A proposed change and since when it has held; acted on once it held for its delay. */
  #pending: { to: "up" | "down" | "zero"; since: number } | undefined;

  /** `current`: the replicas a deployment already has when it becomes autoscaled (kept, within bounds). */
  constructor(config: AutoscalingConfig | undefined, current?: number) {
    this.config = resolveAutoscaling(config);
    this.target = current === undefined ? clamp(this.config, this.config.initialReplicas) : clamp(this.config, current);
  }

  /** New settings (a redeploy): the target stays where it is, within the new bounds. */
  reconfigure(config: AutoscalingConfig | undefined): void {
    const next = resolveAutoscaling(config);
    if (JSON.stringify(next) === JSON.stringify(this.config)) return;
    this.config = next;
    this.target = clamp(this.config, this.target);
    this.#pending = undefined;
  }

  /** Records the metric measured at `now`. */
  record(now: number, totalRequests: number): void {
    this.#samples.push({ at: now, value: totalRequests });
    const from = now - this.config.lookBackPeriodMs;
    let drop = 0;
    // Keep the newest sample even when the window is 0 ms.
    while (drop < this.#samples.length - 1 && this.#samples[drop]!.at < from) drop++;
    if (drop) this.#samples.splice(0, drop);
  }

  /** The metric averaged over the look-back window (0 with no samples). */
  average(): number {
    if (this.#samples.length === 0) return 0;
    return this.#samples.reduce((n, s) => n + s.value, 0) / this.#samples.length;
  }

  /**
   * Decides at `now`, given how many replicas are running, and returns the (possibly new)
   * target. From zero, any demand starts a replica at once; while none runs (they are
   * starting) nothing else changes; otherwise a change acts once it has held for
   * `upscaleDelayMs` / `downscaleDelayMs` (`downscaleToZeroDelayMs` for 1 -> 0).
   */
  decide(now: number, running: number, wallClock = Date.now()): number {
    const c = this.config;
    const total = this.average();
    if (running === 0 || this.target === 0) {
      if (this.target === 0 && total > 0) {
        this.#act(wallClock, clamp(c, Math.max(1, Math.ceil(c.upscalingFactor))), total, "requests arrived with no replicas");
      }
      return this.target;
    }
    let desired = desiredReplicas(c, total, running);
    if (desired === this.target) {
      this.#pending = undefined;
      return this.target;
    }
    let kind: "up" | "down" | "zero";
    let delay: number;
    if (desired > this.target) {
      kind = "up";
      delay = c.upscaleDelayMs;
    } else if (this.target === 1 && desired === 0) {
      kind = "zero";
      delay = c.downscaleToZeroDelayMs;
    } else {
      // Down to one first; the last step to zero has its own delay.
      kind = "down";
      delay = c.downscaleDelayMs;
      desired = Math.max(1, desired);
    }
    if (this.#pending?.to !== kind) this.#pending = { to: kind, since: now };
    if (now - this.#pending.since >= delay) {
      const per = (total / running).toFixed(2);
      this.#act(wallClock, desired, total, `${total.toFixed(2)} requests for ${running} running (${per} each, target ${c.targetOngoingRequests}) held ${kind === "up" ? "above" : "below"} target for ${delay} ms`);
    }
    return this.target;
  }

  #act(at: number, to: number, totalRequests: number, reason: string): void {
    this.lastDecision = { at, from: this.target, to, totalRequests: Math.round(totalRequests * 100) / 100, reason };
    this.target = to;
    this.#pending = undefined;
  }
}

/** Which replicas a scale-down stops: starting ones first (they serve nothing yet), then the newest running ones. */
export function pickToStop<R extends { state: string }>(replicas: readonly R[], n: number): R[] {
  const live = replicas.filter((r) => r.state !== "STOPPING");
  const starting = live.filter((r) => r.state === "STARTING").reverse();
  const others = live.filter((r) => r.state !== "STARTING").reverse();
  return [...starting, ...others].slice(0, Math.max(0, n));
}
