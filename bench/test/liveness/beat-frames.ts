import { Heartbeat, decodeMessage, encodeMessage } from "@konorkestra/proto";
import { buildHeartbeat } from "@konorkestra/sdk/internal";
import type { AppliedRevision } from "@konorkestra/sdk/internal";

/** One core-NATS `PUB <subject> <len>\r\n<payload>\r\n` frame. */
export interface PubFrame {
  subject: string;
  payload: Buffer;
}

/** Splits a buffer of PUB frames; throws on anything else. */
export function parsePubFrames(buf: Uint8Array): PubFrame[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: PubFrame[] = [];
  let at = 0;
  while (at < b.length) {
    const eol = b.indexOf("\r\n", at, "latin1");
    const m = /^PUB (\S+) (\d+)$/.exec(b.toString("latin1", at, eol));
    if (!m) throw new Error(`not a PUB frame at ${at}: ${b.toString("latin1", at, eol)}`);
    const len = Number(m[2]);
    const payload = Buffer.from(b.subarray(eol + 2, eol + 2 + len));
    if (b.toString("latin1", eol + 2 + len, eol + 4 + len) !== "\r\n") {
      throw new Error(`frame at ${at} does not end in CRLF after ${len} bytes`);
    }
    out.push({ subject: m[1]!, payload });
    at = eol + 4 + len;
  }
  return out;
}

/**
 * The bytes the SDK's heartbeat client would send for the beat `payload` decodes to: its
 * identity, seq and timestamps fed back to `buildHeartbeat` + `encodeMessage` (uptime as sent).
 */
export function sdkBytesOf(payload: Uint8Array): Buffer {
  const hb = decodeMessage(Heartbeat, payload);
  const applied: Record<string, AppliedRevision> = {};
  for (const [key, c] of Object.entries(hb.config)) {
    applied[key] = {
      revision: Number(c.revision),
      sha256: String(c.sha256),
      appliedAtMs: Number(c.appliedAtMs),
    };
  }
  const msg = buildHeartbeat(
    {
      group: hb.group,
      nodeId: hb.nodeId,
      intervalMs: hb.intervalMs,
      allowedMisses: hb.allowedMisses,
      serviceName: String(hb.process?.serviceName),
      serviceVersion: String(hb.process?.serviceVersion),
      instanceId: String(hb.process?.instanceId),
      meta: { ...hb.meta },
    },
    { seq: Number(hb.seq), sentAtMs: Number(hb.sentAtMs), leaving: false, applied },
  );
  return Buffer.from(encodeMessage(Heartbeat, { ...msg, uptimeMs: Number(hb.uptimeMs) }));
}
