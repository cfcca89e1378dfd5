/**
 * Finds a deployment's target inside a replica: import the module that defined it and look
 * the target up by where it was defined. The import may never finish (a module that awaits
 * `serve.run()` at top level never settles inside a replica), so we also stop waiting as soon
 * as the target has been defined or `serve.run()` has been reached.
 */
import { findTarget, onDefinition, type Source } from "../../sdk/registry.ts";
import type { Target } from "../../sdk/deployment.ts";

export async function loadTarget(source: Source, runReached: Promise<void>): Promise<Target> {
  const found = () => findTarget(source) as Target | undefined;
  let stop: () => void = () => {};
  const defined = new Promise<void>((resolve) => {
    stop = onDefinition(() => found() && resolve());
  });
  const imported = import(source.file);
  try {
    await Promise.race([imported, defined, runReached]);
  } finally {
    stop();
  }
  const target = found();
  if (!target) {
    throw new Error(
      `the deployment defined at ${source.file}:${source.key} was not found after importing that module; ` +
        "define deployments at the top level of a module (not inside a function that runs later)",
    );
  }
  return target;
}
