export { Proxy, DEFAULT_MAX_BODY, type ProxyOptions } from "./proxy.ts";
export { proxyFetch } from "./app.ts";
export { WebSockets } from "./websocket.ts";
