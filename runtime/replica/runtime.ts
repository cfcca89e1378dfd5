/**
 * The SDK's runtime inside a replica: handles call through this replica's client, and
 * `serve.run()` deploys nothing and never settles (the module that called it is being
 * imported to find a deployment, not to run an app).
 */
import { ServeError } from "../../sdk/errors.ts";
import type { Call, CallOptions, HandleTarget, Runtime, StreamCall } from "../../sdk/runtime.ts";
import type { ServeStatus } from "../../sdk/status.ts";
import type { Client } from "../router/client.ts";
import { type Directory, resolveTarget } from "./directory.ts";

export class ReplicaRuntime implements Runtime {
  directory: Directory = {};
  #runReached!: () => void;
  /** Resolves when user code calls `serve.run()` or `serve.start()` (the module got that far). */
  readonly runReached = new Promise<void>((resolve) => (this.#runReached = resolve));

  constructor(
    readonly client: Client,
    readonly appName: string,
  ) {}

  start(): Promise<never> {
    this.#runReached();
    return new Promise<never>(() => {});
  }

  run(): Promise<never> {
    this.#runReached();
    return new Promise<never>(() => {});
  }

  async delete(): Promise<void> {
    throw new ServeError("serve.delete() is not available inside a deployment");
  }

  async shutdown(): Promise<void> {
    throw new ServeError("serve.shutdown() is not available inside a deployment");
  }

  async status(): Promise<ServeStatus> {
    throw new ServeError("serve.status() is not available inside a deployment");
  }

  async metrics(): Promise<string> {
    throw new ServeError("serve.metrics() is not available inside a deployment; scrape GET /metrics on the admin API");
  }

  target(appName: string, deploymentName?: string): HandleTarget {
    return resolveTarget(this.directory, appName, deploymentName, this.appName);
  }

  call(target: HandleTarget, options: CallOptions, method: string, args: unknown[]): Call {
    return this.client.call(target, options, method, args);
  }

  stream(target: HandleTarget, options: CallOptions, method: string, args: unknown[]): StreamCall {
    return this.client.stream(target, options, method, args);
  }
}
