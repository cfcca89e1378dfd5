/** The shape of `serve.status()`, with Ray Serve's enums. */

export type ApplicationStatus = "NOT_STARTED" | "DEPLOYING" | "DEPLOY_FAILED" | "RUNNING" | "UNHEALTHY" | "DELETING";
export type DeploymentStatus = "UPDATING" | "HEALTHY" | "UNHEALTHY" | "DEPLOY_FAILED" | "UPSCALING" | "DOWNSCALING";
export type ReplicaState = "STARTING" | "UPDATING" | "RECOVERING" | "RUNNING" | "STOPPING";

export interface ReplicaStatusInfo {
  replicaId: string;
  state: ReplicaState;
  /** The node it runs on, when the instance spans several (a cluster). */
  node?: string;
  /** Multiplexed model ids held or loading. */
  multiplexedModelIds: string[];
  /** Multiplexed model loads and unloads so far, and the time spent loading (ms). */
  modelLoads?: number;
  modelUnloads?: number;
  modelLoadMsTotal?: number;
  /** Requests running or waiting at the replica, and how long the oldest has been there (ms). */
  ongoingRequests?: number;
  oldestRequestMs?: number;
}

/** A change of an autoscaled deployment's target. */
export interface AutoscalingDecision {
  /** When it acted, ms since the epoch. */
  at: number;
  from: number;
  to: number;
  /** The metric it acted on: requests queued at callers plus ongoing at replicas, averaged over `lookBackPeriodMs`. */
  totalRequests: number;
  reason: string;
}

export interface AutoscalingStatusInfo {
  /** The metric now: requests queued at callers plus ongoing at replicas, averaged over `lookBackPeriodMs`. */
  totalRequests: number;
  minReplicas: number;
  maxReplicas: number;
  /** `null` until the autoscaler first changes the target. */
  lastDecision: AutoscalingDecision | null;
}

export interface DeploymentStatusInfo {
  status: DeploymentStatus;
  message: string;
  replicaStates: Partial<Record<ReplicaState, number>>;
  replicas: ReplicaStatusInfo[];
  /** The replicas it aims for: `numReplicas`, or the autoscaler's target. */
  targetReplicas: number;
  /** The replicas running now. */
  currentReplicas: number;
  /** Present when the deployment autoscales (`numReplicas: "auto"`). */
  autoscaling?: AutoscalingStatusInfo;
}

export interface ApplicationStatusInfo {
  status: ApplicationStatus;
  message: string;
  routePrefix: string | null;
  deployments: Record<string, DeploymentStatusInfo>;
  /** WebSockets open through the proxy to this application's ingress. */
  numOngoingWebsockets?: number;
}

/** A node of a cluster: `DEAD` once it has not been heard from for 5 s. */
export interface NodeStatusInfo {
  status: "ALIVE" | "DEAD";
  /** Replicas it runs. */
  replicas: number;
  /** Its HTTP proxy. */
  httpUrl: string | null;
  /** Whether it is the head (controller and admin API). */
  head: boolean;
}

export interface ServeStatus {
  proxy: { url: string | null; status: "HEALTHY" | "UNHEALTHY" | "NOT_STARTED" };
  applications: Record<string, ApplicationStatusInfo>;
  /** Present when the instance spans several nodes (`tsserve start --cluster`). */
  nodes?: Record<string, NodeStatusInfo>;
}
