// The other process of the raw NATS floor (floor.ts): answers every request on `subject` with
// its own bytes (so replies are as big as requests), and says "ready" once the server has the
// subscription. `bun floor_responder.ts <url> <subject>` (or `deno run -A ...`).
import { connect } from "@nats-io/transport-node";

const [url, subject] = process.argv.slice(-2);
const nc = await connect({ servers: url });
nc.subscribe(subject!, { callback: (_err, msg) => void msg.respond(msg.data) });
await nc.flush();
console.log("ready");
// floor.ts ends this process (SIGTERM); the connection goes with it.
