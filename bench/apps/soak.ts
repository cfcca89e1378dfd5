// Deployments for bench/soak.ts: an HTTP ingress that chains an upstream's response into a
// downstream (the value goes replica to replica, as in the seeds' chain), 2 replicas each. Any
// can be told to crash (its Worker exits, as a real crash would), recording first how many
// requests it had in flight, so the soak can compare its failures with that number.
import { serve, type DeploymentHandle } from "tsserve";

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

/** Ends this replica's Worker; slot `slot` of `flags` gets the requests it had in flight. */
function crash(flags: SharedArrayBuffer, slot: number, active: () => number): Promise<never> {
  setTimeout(() => {
    Atomics.store(new Int32Array(flags), slot, active());
    process.exit(1);
  }, 0);
  return new Promise<never>(() => {});
}

/** A step of the chain: `f(x)` after a tick, counting what it has in flight so a crash can report it. */
class Step {
  active = 0;
  constructor(
    private flags: SharedArrayBuffer,
    private f: (x: number) => number,
  ) {}
  async call(x: number): Promise<number> {
    this.active++;
    try {
      await tick();
      return this.f(x);
    } finally {
      this.active--;
    }
  }
  crash(slot: number) {
    return crash(this.flags, slot, () => this.active);
  }
}

/** The chain's first step: passes x on, so its value goes replica to replica. */
export const SoakUp = serve.deployment(class SoakUp extends Step {
  constructor(flags: SharedArrayBuffer) {
    super(flags, (x) => x);
  }
}, { numReplicas: 2 });

export const SoakDown = serve.deployment(class SoakDown extends Step {
  constructor(flags: SharedArrayBuffer) {
    super(flags, (x) => x * 2);
  }
}, { numReplicas: 2 });

/** GET /?x=N answers 2N. A downstream failure answers 502 `<error name>: downstream`. */
export const SoakIngress = serve.deployment(class SoakIngress {
  active = 0;
  constructor(
    private up: DeploymentHandle<typeof SoakUp>,
    private down: DeploymentHandle<typeof SoakDown>,
    private flags: SharedArrayBuffer,
  ) {}
  async call(request: Request): Promise<string | Response> {
    this.active++;
    try {
      const x = Number(new URL(request.url).searchParams.get("x") ?? 0);
      try {
        return String(await this.down.remote(this.up.remote(x)));
      } catch (err) {
        return new Response(`${(err as Error).name}: downstream`, { status: 502 });
      }
    } finally {
      this.active--;
    }
  }
  crash(slot: number) {
    return crash(this.flags, slot, () => this.active);
  }
}, { numReplicas: 2 });

export const soakFlags = new SharedArrayBuffer(4096);
export const soakApp = SoakIngress.bind(SoakUp.bind(soakFlags), SoakDown.bind(soakFlags), soakFlags);
