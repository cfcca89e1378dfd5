/**
 * The main thread's side of metrics: where its live gauges read from (the controller's
 * replicas and targets, the main thread's queues), and which replicas a scrape asks.
 */
import type { Controller } from "../controller/controller.ts";
import type { Client } from "../router/client.ts";
import { controller as controllerMetrics, http, memory } from "./builtin.ts";
import type { CounterSeries } from "./tally.ts";
import { readQueues } from "./caller.ts";
import { scraper } from "./scrape.ts";

/** `openSockets()`: the proxy's open WebSockets by application. */
export function watchMainThread(controller: Controller, client: Client, openSockets: () => Iterable<[string, number]>): void {
  memory.read = () => [[{}, process.memoryUsage().rss]];
  http.websockets.read = function* () {
    for (const [application, n] of openSockets()) yield [{ application }, n];
  };
  readQueues(() => client.queues());
  controllerMetrics.healthy.read = function* () {
    for (const [application, app] of controller.apps) {
      for (const [deployment, d] of app.deployments) {
        for (const r of d.replicas) yield [{ application, deployment, replica: r.id }, r.state === "RUNNING" ? 1 : 0];
      }
    }
  };
  controllerMetrics.target.read = function* () {
    for (const [application, app] of controller.apps) {
      for (const [deployment, d] of app.deployments) yield [{ application, deployment }, d.wanted];
    }
  };
  scraper.live = function* () {
    for (const r of controller.replicaWorkers()) {
      // A starting replica has no labels yet; a gone one answers nothing.
      if (r.state === "STARTING" || !r.alive) continue;
      yield { id: r.id, appName: r.appName, figures: () => r.host.metrics() };
    }
  };
}

const starts = new Map<string, CounterSeries>();

/** A replica of `application/deployment` started. */
export function replicaStarted(application: string, deployment: string): void {
  const key = `${application}/${deployment}`;
  let s = starts.get(key);
  if (!s) starts.set(key, (s = controllerMetrics.starts.series({ application, deployment })));
  s.value++;
}
