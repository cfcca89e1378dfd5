/**
 * Subscribing safely. nats.js runs a subscription's callback on its socket reader: an exception
 * there ends the reader ("reader closed"), and from then on the node hears nothing from NATS
 * (no calls, no answers, no commands) while it still publishes its heartbeats, so nobody
 * declares it dead. Every callback of the cluster goes through here.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { logger } from "../log/logger.ts";

export function subscribe(nc: NatsConnection, subject: string, onMessage: (msg: Msg) => void): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      // A status message has no body: "503 no responders" comes back on the reply subject of a
      // batch sent to a replica whose node no longer serves it (it stopped, or NATS restarted
      // and that node has not subscribed again yet). Its callers hear of it from the head.
      if (msg.data.length === 0) return;
      try {
        onMessage(msg);
      } catch (e) {
        logger.error(`a message on ${subject} could not be handled: ${(e as Error).stack ?? e}`);
      }
    },
  });
}
