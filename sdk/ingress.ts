/** `serve.ingress(app)`: an Elysia (or any fetch-style) app as a deployment target. */

interface FetchApp {
  handle?: (request: Request) => Response | Promise<Response>;
  fetch?: (request: Request) => Response | Promise<Response>;
}

/**
 * Wraps a web app object (an Elysia instance, or anything with `handle(request)` or
 * `fetch(request)`) into a class whose `fetch` serves HTTP. Define the app at module
 * level, so every replica builds it when it imports the module.
 *
 * @example
 * const api = new Elysia().get("/:name", ({ params }) => `Hello ${params.name}!`);
 * export const Api = serve.deployment(serve.ingress(api), { name: "Api" });
 */
export function ingress(app: FetchApp): new () => { fetch(request: Request): Promise<Response> } {
  const serveFn = typeof app?.handle === "function" ? app.handle : typeof app?.fetch === "function" ? app.fetch : undefined;
  if (!serveFn) throw new TypeError("serve.ingress() takes an app with handle(request) or fetch(request), such as an Elysia instance");
  const bound = serveFn.bind(app);
  return class Ingress {
    async fetch(request: Request): Promise<Response> {
      return bound(request);
    }
  };
}
