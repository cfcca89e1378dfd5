// A chat over WebSockets: the page at / opens a socket to /chat; each message is answered
// token by token by a downstream Responder, streamed back over the socket as it is made.
//   open http://127.0.0.1:8000/ in a browser (tsserve run examples/chat.ts), or: bun examples/chat.ts
import { serve, type DeploymentHandle } from "tsserve";

/** Stands in for a model: answers a message one token at a time. */
export const Responder = serve.deployment(class Responder {
  async *reply(message: string): AsyncGenerator<string> {
    for (const token of `You said: ${message}`.split(" ")) {
      await new Promise((r) => setTimeout(r, 5)); // a model takes a moment per token
      yield `${token} `;
    }
  }
});

/** The ingress: HTTP serves the page, a WebSocket carries the chat (any path under the prefix). */
export const Chat = serve.deployment(class Chat {
  constructor(private responder: DeploymentHandle<typeof Responder>) {}

  fetch(): Response {
    return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
  }

  // Each client message in, a stream of JSON events out; the socket closes (1000) when the
  // client says "bye", and the generator's `finally` runs however the socket ends.
  async *websocket(messages: AsyncIterable<string | Uint8Array>): AsyncGenerator<string> {
    yield JSON.stringify({ type: "hello", requestId: serve.getRequestContext().requestId });
    for await (const message of messages) {
      if (typeof message !== "string") continue;
      if (message === "bye") return;
      for await (const token of this.responder.options({ stream: true }).reply.remote(message)) {
        yield JSON.stringify({ type: "token", token });
      }
      yield JSON.stringify({ type: "done" });
    }
  }
});

export const app = Chat.bind(Responder.bind());

const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>tsserve chat</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto} #log p{margin:.3em 0}</style>
<h1>tsserve chat</h1>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" autofocus> <button>Send</button></form>
<script>
  const log = document.getElementById("log");
  const socket = new WebSocket(location.href.replace(/^http/, "ws").replace(/\\/?$/, "/chat"));
  let answer;
  socket.onopen = () => document.body.dataset.state = "open";
  socket.onclose = (e) => document.body.dataset.state = "closed " + e.code;
  socket.onmessage = (e) => {
    const event = JSON.parse(e.data);
    if (event.type === "token") {
      if (!answer) { answer = document.createElement("p"); answer.className = "bot"; log.append(answer); }
      answer.textContent += event.token;
    } else if (event.type === "done") {
      answer.dataset.done = "true";
      answer = undefined;
    }
  };
  document.getElementById("form").onsubmit = (e) => {
    e.preventDefault();
    const input = document.getElementById("text");
    const p = document.createElement("p");
    p.className = "me";
    p.textContent = "> " + input.value;
    log.append(p);
    socket.send(input.value);
    input.value = "";
  };
</script>
</html>`;

if (import.meta.main) {
  const { httpUrl } = await serve.start({ http: { port: 0 } });
  await serve.run(app);
  const socket = new WebSocket(httpUrl.replace(/^http/, "ws") + "/chat");
  let reply = "";
  await new Promise<void>((resolve) => {
    socket.onopen = () => socket.send("hello there");
    socket.onmessage = (e) => {
      const event = JSON.parse(e.data as string);
      if (event.type === "token") reply += event.token;
      if (event.type === "done") socket.send("bye");
    };
    socket.onclose = () => resolve();
  });
  console.log(reply.trim()); // You said: hello there
  await serve.shutdown();
}
