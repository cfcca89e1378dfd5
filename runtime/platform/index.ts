/**
 * The few Bun-only calls tsserve makes, in one place, so a Deno port replaces this folder
 * and nothing else.
 */
export { listenError, serveHttp, DEFAULT_IDLE_TIMEOUT_SECONDS, type FetchHandler, type HttpServer, type Listener, type ServeOptions } from "./http.ts";
export { registerBuiltins } from "./builtins.ts";
export { workerUrl, isCompiled } from "./workers.ts";
export { parseYaml } from "./yaml.ts";
export { upgradeSocket, type SocketSession, type SocketLimits } from "./websocket.ts";
