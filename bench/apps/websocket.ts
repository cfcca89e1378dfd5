// Deployments for the WebSocket benchmark (replicas import this module to find them).
import { serve } from "tsserve";

/** Sends back every message it gets. */
export const WsEcho = serve.deployment(class WsEcho {
  async *websocket(messages: AsyncIterable<string | Uint8Array>) {
    for await (const m of messages) yield m;
  }
});

const MESSAGE = "aaaaaaaaaaaaaaaa"; // 16 bytes, like the raw floor's

/** Sends 16-byte text messages as fast as the client takes them, until it closes. */
export const WsSource = serve.deployment(class WsSource {
  async *websocket() {
    const signal = serve.getRequestContext().signal;
    while (!signal.aborted) yield MESSAGE;
  }
});

export const wsEchoApp = WsEcho.bind();
export const wsSourceApp = WsSource.bind();
