/** The Worker entry of every replica: exposes the replica host to the controller. */
import * as Comlink from "comlink";
import { guardWorker } from "../platform/index.ts";
import { ReplicaHost } from "./host.ts";

declare const self: Worker;

guardWorker();

Comlink.expose(new ReplicaHost(), self as unknown as Comlink.Endpoint);
