// A page on another origin calling an app (fetch, EventSource): CORS, with Elysia and without.
//   curl -i -H 'Origin: http://localhost:5173' http://127.0.0.1:8000/time
import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";
import { serve } from "tsserve";

/** The one origin allowed to call these apps: say which pages may, rather than any page. */
const PAGE = "http://localhost:5173";

/** With Elysia: the @elysiajs/cors plugin, which the binary carries beside "elysia". */
export const Api = serve.deployment(
  serve.ingress(
    new Elysia()
      .use(cors({ origin: PAGE }))
      .get("/time", () => ({ now: Date.now() }))
      .get("/ticks", async function* () {
        for (let i = 1; i <= 3; i++) yield `data: ${i}\n\n`;
      }),
  ),
  { name: "Api" },
);

/** Without Elysia: a class that answers the browser's preflight and adds the header itself. */
export const PlainApi = serve.deployment(class PlainApi {
  fetch(request: Request): Response {
    const allowed: Record<string, string> = request.headers.get("origin") === PAGE ? { "access-control-allow-origin": PAGE, vary: "origin" } : {};
    if (request.method === "OPTIONS") {
      return new Response(null, { status: 204, headers: { ...allowed, "access-control-allow-methods": "GET, POST", "access-control-allow-headers": "content-type" } });
    }
    return Response.json({ now: Date.now() }, { headers: allowed });
  }
});

export const app = Api.bind();
export const plainApp = PlainApi.bind();
