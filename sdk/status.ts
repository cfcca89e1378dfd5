/** The shape of `serve.status()`, with Ray Serve's enums. */

export type ApplicationStatus = "NOT_STARTED" | "DEPLOYING" | "DEPLOY_FAILED" | "RUNNING" | "UNHEALTHY" | "DELETING";
export type DeploymentStatus = "UPDATING" | "HEALTHY" | "UNHEALTHY" | "DEPLOY_FAILED" | "UPSCALING" | "DOWNSCALING";
export type ReplicaState = "STARTING" | "UPDATING" | "RECOVERING" | "RUNNING" | "STOPPING";

export interface ReplicaStatusInfo {
  replicaId: string;
  state: ReplicaState;
  /** Multiplexed model ids held or loading. */
  multiplexedModelIds: string[];
}

export interface DeploymentStatusInfo {
  status: DeploymentStatus;
  message: string;
  replicaStates: Partial<Record<ReplicaState, number>>;
  replicas: ReplicaStatusInfo[];
}

export interface ApplicationStatusInfo {
  status: ApplicationStatus;
  message: string;
  routePrefix: string | null;
  deployments: Record<string, DeploymentStatusInfo>;
}

export interface ServeStatus {
  proxy: { url: string | null; status: "HEALTHY" | "UNHEALTHY" | "NOT_STARTED" };
  applications: Record<string, ApplicationStatusInfo>;
}
