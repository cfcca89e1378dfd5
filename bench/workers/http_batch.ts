// The replica side of bench/dev/design_floor.ts: answers every HTTP call of a JSON batch with
// response data, in one JSON batch back, over the MessagePort it is sent first.
export {};
declare var self: Worker;

self.onmessage = (e: MessageEvent) => {
  const port = e.data.port as MessagePort;
  port.onmessage = (m) => {
    const answers = [];
    for (const call of JSON.parse(m.data as string)) {
      answers.push({ k: 10, id: call.id, v: { status: 200, headers: { "content-type": "text/plain; charset=utf-8" }, body: "hello" } });
    }
    port.postMessage(JSON.stringify(answers));
  };
};
