/**
 * A caller's router for one deployment: sends each request to a replica with room, and
 * queues the rest in order. One per caller thread and deployment; every handle to that
 * deployment in the thread shares it.
 */
import { BackPressureError, DeploymentUnavailableError } from "../../sdk/errors.ts";
import type { ReplicaLink } from "../wire/link.ts";
import { pickForModel, pickReplica } from "./policy.ts";
import { Queue } from "./queue.ts";

/** A request as the router sees it. */
export interface Routable {
  /** Sent to `link` (the router has counted it in flight). */
  dispatch(link: ReplicaLink): void;
  /** Refused before it was sent. */
  fail(err: Error): void;
  /** The multiplexed model the request is for ("" for none). */
  readonly modelId: string;
}

export interface RouterLimits {
  maxOngoingRequests: number;
  maxQueuedRequests: number;
}

export class Router {
  #links: ReplicaLink[] = [];
  #unsubscribe: (() => void)[] = [];
  readonly #queue = new Queue<Routable>();
  #limits: RouterLimits = { maxOngoingRequests: 5, maxQueuedRequests: -1 };
  /** Set when the deployment cannot serve (failed, deleted): queued and new requests fail with it. */
  #unavailable: Error | undefined;
  /** Told once a request waits with no replica to go to (a deployment scaled to zero), until one comes. */
  onNoReplicas: (() => void) | undefined;
  #toldNoReplicas = false;

  constructor(readonly name: string) {}

  get queued(): number {
    return this.#queue.size;
  }

  get replicas(): readonly ReplicaLink[] {
    return this.#links;
  }

  /** Sends `req` now if a replica has room, else queues it (or refuses it when the queue is full). */
  submit(req: Routable): void {
    if (this.#unavailable) return req.fail(this.#unavailable);
    if (this.#queue.size === 0) {
      const link = this.#pick(req);
      if (link) return this.#send(link, req);
    }
    const max = this.#limits.maxQueuedRequests;
    if (max >= 0 && this.#queue.size >= max) return req.fail(new BackPressureError(this.#queue.size, max));
    this.#queue.push(req);
    if (this.#links.length === 0 && !this.#toldNoReplicas) {
      this.#toldNoReplicas = true;
      this.onNoReplicas?.();
    }
  }

  /** Takes a request out of the queue (it was cancelled); false if it was sent already. */
  withdraw(req: Routable): boolean {
    return this.#queue.remove(req);
  }

  /** The replicas to route to, and the limits to route by. */
  update(links: ReplicaLink[], limits: RouterLimits): void {
    for (const off of this.#unsubscribe) off();
    this.#links = links;
    this.#limits = limits;
    if (links.length) this.#toldNoReplicas = false;
    this.#unavailable = undefined;
    this.#unsubscribe = links.map((l) => l.onFree(this.#drain));
    this.#drain();
    // Requests made before the limits were known: refuse the newest beyond the queue limit.
    const max = limits.maxQueuedRequests;
    while (max >= 0 && this.#queue.size > max) this.#queue.pop()!.fail(new BackPressureError(max, max));
  }

  /** The deployment cannot serve: fail what waits, and what comes, with `err`. */
  close(err: Error = new DeploymentUnavailableError(`deployment ${this.name} is not available`)): void {
    this.#unavailable = err;
    for (const req of this.#queue.drain()) req.fail(err);
  }

  #pick(req: Routable): ReplicaLink | undefined {
    const max = this.#limits.maxOngoingRequests;
    return req.modelId ? pickForModel(this.#links, max, req.modelId) : pickReplica(this.#links, max);
  }

  #send(link: ReplicaLink, req: Routable): void {
    link.inFlight++;
    req.dispatch(link);
  }

  #drain = (): void => {
    while (this.#queue.size > 0) {
      const link = this.#pick(this.#queue.peek()!);
      if (!link) return;
      this.#send(link, this.#queue.shift()!);
    }
  };
}
