/** The applications and deployments that exist, as the controller last told this thread. */
import { ServeError } from "../../sdk/errors.ts";
import type { HandleTarget } from "../../sdk/runtime.ts";

export type Directory = Record<string, { ingress: string; deployments: string[] }>;

/**
 * Which deployment `serve.getDeploymentHandle(name, app)` or `getAppHandle(app)` means; throws
 * naming what does not exist. `defaultApp` is used when no app name is given.
 */
export function resolveTarget(dir: Directory, appName: string, deploymentName: string | undefined, defaultApp?: string): HandleTarget {
  const apps = Object.keys(dir);
  const name = appName || defaultApp || (apps.length === 1 ? apps[0]! : "default");
  const app = dir[name];
  if (!app) {
    throw new ServeError(`no application named "${name}" is running; running applications: ${apps.map((a) => `"${a}"`).join(", ") || "(none)"}`);
  }
  if (deploymentName === undefined) return { appName: name, deploymentName: app.ingress };
  if (!app.deployments.includes(deploymentName)) {
    throw new ServeError(`application "${name}" has no deployment named "${deploymentName}"; its deployments: ${app.deployments.join(", ")}`);
  }
  return { appName: name, deploymentName };
}
