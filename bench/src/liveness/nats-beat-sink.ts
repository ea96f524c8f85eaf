import type { NatsConnection } from "@nats-io/transport-node";
import { perNode } from "./case-driver";
import type { BeatSink } from "./node-simulator";

/** The part of nats.js' protocol handler that queues bytes for the socket. */
interface CommandQueue {
  sendCommand(cmd: Uint8Array): void;
}

/**
 * Core NATS publishes of heartbeats on `subjectOf(node)` through `nc`, counted. When nats.js'
 * protocol handler is reachable, the simulator hands it whole `PUB <subject> <len>\r\n<beat>\r\n`
 * frames of many beats in one buffer (`frames`): the bytes `nc.publish` would queue for each
 * beat, without its per-publish checks, string encoding and copying; nats.js flushes them as it
 * does its own publishes (one socket write per event-loop turn). Otherwise (another nats.js),
 * one `publish` per beat.
 */
export function natsBeatSink(
  nc: NatsConnection,
  subjectOf: (node: string) => string,
): BeatSink & { readonly sent: number } {
  const subject = perNode(subjectOf);
  const queue = (nc as unknown as { protocol?: Partial<CommandQueue> }).protocol;
  let sent = 0;
  const sink: BeatSink & { readonly sent: number } = {
    send: (node, payload) => {
      sent++;
      nc.publish(subject(node), payload);
    },
    get sent() {
      return sent;
    },
  };
  if (typeof queue?.sendCommand !== "function") return sink;
  const sendCommand = queue.sendCommand.bind(queue);
  return Object.assign(sink, {
    frames: {
      subject,
      write: (frames: Uint8Array, beats: number) => {
        if (nc.isClosed()) throw new Error("heartbeat connection closed");
        sent += beats;
        sendCommand(frames);
      },
    },
  });
}
