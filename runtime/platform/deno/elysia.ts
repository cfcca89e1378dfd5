/**
 * "elysia" on Deno (deno.json's import map points the name here, as Bun's module plugin points
 * it at the runtime's copy): Elysia itself, with WebSocket routes.
 *
 * Elysia picks its Bun adapter only where `Bun` exists; elsewhere its web-standard adapter has
 * no `ws`, so `.ws()` warns "Current adapter doesn't support WebSocket" and registers nothing
 * (Elysia 1.4). The Bun adapter's `ws` only adds a "WS" route whose handler calls
 * `context.server.upgrade()`, which a replica provides (replica/elysia_socket.ts), so lending it
 * to the web-standard adapter gives Deno the same routes. Done here, before any user module
 * defines its app, and only in threads that import Elysia (it costs about 50 ms to load).
 */
import { WebStandardAdapter } from "npm:elysia@^1.4.30/adapter/web-standard";
import { BunAdapter } from "npm:elysia@^1.4.30/adapter/bun";

const standard = WebStandardAdapter as { ws?: unknown };
standard.ws ??= BunAdapter.ws;

export * from "npm:elysia@^1.4.30";
export { default } from "npm:elysia@^1.4.30";
