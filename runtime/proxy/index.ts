export { Proxy, DEFAULT_MAX_BODY, type ProxyOptions } from "./proxy.ts";
export { proxyApp } from "./app.ts";
