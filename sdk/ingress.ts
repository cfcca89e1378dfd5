/** `serve.ingress(app)` and `serve.ingress(builder)`: an Elysia (or any fetch-style) app as a deployment target. */

/** What an ingress serves HTTP with: an Elysia instance, or anything with `handle(request)` or `fetch(request)`. */
export interface FetchApp {
  handle?: (request: Request) => Response | Promise<Response>;
  fetch?: (request: Request) => Response | Promise<Response>;
}

/**
 * The class `serve.ingress()` returns: its constructor takes the builder's parameters (none for
 * an app), so `bind()` is typed from them and handles go where the builder asks for them.
 */
export type IngressClass<A extends unknown[] = []> = new (...args: A) => { fetch(request: Request): Promise<Response> };

type Serve = (request: Request) => Response | Promise<Response>;

/** The app's handler, bound to it; `whose` says where the app came from, for the error. */
function handlerOf(app: unknown, whose: string): Serve {
  const a = app as FetchApp | null | undefined;
  const fn = typeof a?.handle === "function" ? a.handle : typeof a?.fetch === "function" ? a.fetch : undefined;
  if (!fn) {
    const got = app === null ? "null" : Array.isArray(app) ? "an array" : typeof app === "object" ? "an object without handle() or fetch()" : typeof app;
    throw new TypeError(`${whose} must be an app with handle(request) or fetch(request), such as an Elysia instance; got ${got}`);
  }
  return fn.bind(app);
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as { then?: unknown } | null)?.then === "function";

/**
 * Makes a deployment target from a web app. The class is named `Ingress` (so is the
 * deployment, unless `{ name }` says otherwise), the same from source and from the binary.
 *
 * - `serve.ingress(app)`: an app defined at module level, which every replica builds when it
 *   imports the module.
 * - `serve.ingress(builder)`: `builder(...args)` makes the app, once per replica, from the
 *   deployment's constructor arguments; its parameters are the deployment's, so handles to
 *   other deployments are typed (`Api.bind(Greeter.bind())` type-checks). It may be async.
 *
 * @example
 * const Api = serve.deployment(serve.ingress((greeter: DeploymentHandle<typeof Greeter>) =>
 *   new Elysia().get("/hello/:name", ({ params }) => greeter.remote(params.name))));
 * export const app = Api.bind(Greeter.bind());
 */
export function ingress<A extends unknown[]>(builder: (...args: A) => FetchApp | Promise<FetchApp>): IngressClass<A>;
export function ingress(app: FetchApp): IngressClass;
export function ingress(appOrBuilder: unknown): IngressClass<unknown[]> {
  if (typeof appOrBuilder !== "function") {
    const serveFn = handlerOf(appOrBuilder, "serve.ingress(app): app");
    return class Ingress {
      async fetch(request: Request): Promise<Response> {
        return serveFn(request);
      }
    };
  }
  const builder = appOrBuilder as (...args: unknown[]) => unknown;
  const where = `serve.ingress(builder): what ${builder.name ? `${builder.name}()` : "the builder"} returned`;
  return class Ingress {
    #serve: Serve | undefined;
    #building: PromiseLike<unknown> | undefined;

    constructor(...args: unknown[]) {
      const app = builder(...args);
      if (isThenable(app)) this.#building = app;
      else this.#serve = handlerOf(app, where);
    }

    /** An async builder's app is ready before the replica takes traffic. */
    async init(): Promise<void> {
      if (this.#building) this.#serve = handlerOf(await this.#building, where);
    }

    async fetch(request: Request): Promise<Response> {
      return this.#serve!(request);
    }
  };
}
