// userFrames (runtime/controller/start-error.ts): the frames of a start error that are the user's,
// from Bun's stacks (paths) and Deno's (file:// URLs) alike.
import { describe, expect, test } from "bun:test";
import { startErrorSummary, userFrames } from "../../runtime/controller/start-error.ts";

const root = new URL("../../", import.meta.url);
const own = (file: string) => new URL(file, root);

describe("userFrames", () => {
  test("Deno's file:// frames of tsserve's own files are skipped; the user's are named as paths", () => {
    const stack = [
      "Error: weights.bin is missing",
      "    at loadWeights (file:///srv/my%20app/model.ts:2:32)",
      "    at new Model (file:///srv/my%20app/model.ts:4:19)",
      `    at ReplicaHost.start (${own("runtime/replica/host.ts").href}:96:46)`,
      "    at eventLoopTick (ext:core/01_core.js:179:7)",
    ].join("\n");
    expect(userFrames(stack)).toEqual(["loadWeights (/srv/my app/model.ts:2:32)", "new Model (/srv/my app/model.ts:4:19)"]);
  });

  test("an option checked inside the SDK names the user's line that called it (Deno)", () => {
    const err = new Error('unknown deployment option "numReplica"');
    err.stack = [
      `Error: ${err.message}`,
      `    at validateOptions (${own("sdk/options.ts").href}:129:13)`,
      `    at Object.deployment (${own("sdk/serve.ts").href}:40:5)`,
      "    at file:///srv/app/typo.ts:2:26",
    ].join("\n");
    expect(userFrames(err.stack, 1)).toEqual(["/srv/app/typo.ts:2:26"]);
    expect(startErrorSummary(err)).toBe('Error: unknown deployment option "numReplica" at /srv/app/typo.ts:2:26');
  });

  test("Bun's path frames: tsserve's own and native ones are skipped", () => {
    const stack = [
      "Error: no model file",
      "    at new Boom (/srv/app/boom.ts:1:70)",
      `    at start (${own("runtime/replica/host.ts").pathname}:96:46)`,
      "    at processTicksAndRejections (native:7:39)",
    ].join("\n");
    expect(userFrames(stack)).toEqual(["new Boom (/srv/app/boom.ts:1:70)"]);
  });
});
