/**
 * A running tsserve instance, as `run` and `start` make it: the runtime (controller, HTTP
 * proxy), the config applier, and the admin API; Ctrl-C or SIGTERM drains and exits 0.
 */
import { serve, type LoggingSettings } from "../sdk/index.ts";
import { DEFAULT_HTTP, mainRuntime } from "../runtime/main.ts";
import { type AdminConfig, ConfigApplier, dashboardData, DEFAULT_ADMIN, type HttpConfig, type Prepared, serverToken, startAdmin, wantedReplicas } from "../runtime/admin/index.ts";
import type { HttpServer } from "../runtime/platform/index.ts";
import { CliError, err, out } from "./output.ts";
import { logger } from "../runtime/log/logger.ts";
import { Progress, whileRunning } from "./progress.ts";
import { type ClusterOptions, startHead } from "../runtime/cluster/index.ts";

export interface InstanceOptions {
  http: HttpConfig;
  /** Where the admin API listens; a port already in use is an error, for run as for start. */
  admin: AdminConfig;
  /** The config's `logging:`, with `--log-format` over it. */
  logging?: LoggingSettings;
  /** `--head --cluster URL`: this instance is a cluster's head. */
  cluster?: ClusterOptions;
}

export class Instance {
  #stopping: Promise<never> | undefined;
  #head: { close(): Promise<void> } | undefined;

  private constructor(
    readonly httpUrl: string,
    readonly applier: ConfigApplier,
    readonly admin: HttpServer | undefined,
    readonly tokenFile: string | undefined,
    /** The dashboard's URL with the admin token in its fragment (the fragment never reaches the server). */
    readonly dashboardUrl: string | undefined,
  ) {}

  /** Starts the proxy and the admin API, and drains on SIGINT/SIGTERM. */
  static async start(options: InstanceOptions): Promise<Instance> {
    const http = { ...DEFAULT_HTTP, requestTimeoutMs: null, ...options.http };
    // A token that cannot be used stops the instance before it serves anything.
    let token: ReturnType<typeof serverToken>;
    try {
      token = serverToken();
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    let httpUrl: string;
    try {
      ({ httpUrl } = await serve.start({ http, ...(options.logging && { logging: options.logging }) }));
    } catch (e) {
      throw new CliError((e as Error).message.replace("serve.start({ http: { port } })", "--port").replace("serve.start({ http: { host } })", "--host"));
    }
    const runtime = mainRuntime();
    let head: Awaited<ReturnType<typeof startHead>> | undefined;
    if (options.cluster) {
      try {
        head = await startHead(options.cluster, runtime, httpUrl, true);
      } catch (e) {
        await serve.shutdown();
        throw new CliError((e as Error).message);
      }
    }
    const applier = new ConfigApplier(runtime.controller);
    const adminAt = { ...DEFAULT_ADMIN, ...options.admin };
    let admin: HttpServer | undefined;
    const tokenFile = token.file;
    let instance: Instance | undefined;
    try {
      admin = startAdmin(adminAt, {
        token: token.token,
        applier,
        status: () => serve.status(),
        listening: () => ({
          http: { host: http.host, port: Number(new URL(httpUrl).port), requestTimeoutMs: http.requestTimeoutMs },
          admin: { host: adminAt.host, port: admin ? Number(new URL(admin.url).port) : adminAt.port },
        }),
        shutdown: async () => {
          out("Shutting down (asked through the admin API)...");
          await serve.shutdown();
          // Answer the request first, then exit.
          setTimeout(() => void instance?.stop(0), 50);
        },
        baseDir: process.cwd(),
        metrics: () => serve.metrics(),
        configureLogging: (logging) => runtime.configureLogging(logging),
        dashboard: () => dashboardData(() => serve.status()),
      });
    } catch (e) {
      // Serving on without the admin API would leave status and shutdown talking to whatever
      // holds the port (another instance): stop instead, naming the port and the flag.
      await serve.shutdown();
      throw new CliError((e as Error).message);
    }
    instance = new Instance(httpUrl, applier, admin, tokenFile, admin ? dashboardLink(admin.url, token.token) : undefined);
    instance.#head = head;
    // A head that ran before on this cluster left its applications in the cluster's state: take them back.
    head?.restore(applier).then(
      (n) => n && out(`Took back ${n} application(s) from cluster ${options.cluster!.name}.`),
      (e: Error) => err(`tsserve: cannot take back the cluster's applications: ${e.message}`),
    );
    let firstSignalAt = 0;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.on(signal, () => {
        if (instance!.#stopping) {
          // Ctrl-C again while draining stops waiting; a copy of the first signal (npm forwards
          // the terminal's SIGINT to its child, which also got it) does not.
          if (Date.now() - firstSignalAt > 1000) process.exit(130);
          return;
        }
        firstSignalAt = Date.now();
        out(`\n${signal === "SIGINT" ? "Ctrl-C" : signal}: draining in-flight requests (Ctrl-C again to stop now)...`);
        void instance!.stop(0);
      });
    }
    return instance;
  }

  /** Drains every application, stops listening, exits with `code`. */
  stop(code: number): Promise<never> {
    this.#stopping ??= (async () => {
      try {
        await serve.shutdown();
      } catch (e) {
        err(`tsserve: error while shutting down: ${(e as Error).message}`);
        code ||= 1;
      }
      this.applier.clear();
      await this.#head?.close();
      await this.admin?.stop();
      logger.flush();
      out("Stopped.");
      process.exit(code);
    })();
    return this.#stopping;
  }

  /** Deploys a prepared config, printing progress; resolves to the errors by application. */
  async deploy(prepared: Prepared): Promise<Record<string, string>> {
    const names = prepared.apps.map((a) => a.config.name);
    const targets = Object.fromEntries(prepared.apps.map((a) => [a.config.name, Object.fromEntries(a.spec.deployments.map((d) => [d.name, wantedReplicas(d)]))]));
    const progress = new Progress(names);
    const { done } = this.applier.apply(prepared);
    const result = await whileRunning(done, async () => progress.update({ applications: (await serve.status()).applications, targets }));
    return result.errors;
  }

  /** Resolves never: the instance runs until a signal or the admin API stops it. */
  block(): Promise<never> {
    return new Promise<never>(() => {});
  }
}

/** The dashboard's address with the token in its fragment, as `tsserve run/start/dashboard` print it. */
export function dashboardLink(adminUrl: string, token: string): string {
  return `${adminUrl}/#token=${encodeURIComponent(token)}`;
}
