import { createHash, randomUUID } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { ConfigEntry, encodeMessage } from "@konorkestra/proto";
import type { ConfigEntryInit } from "@konorkestra/proto";

/** Extra ConfigEntry fields for a test write. */
export type EntryExtras = Partial<Omit<ConfigEntryInit, "payload" | "key">>;

/** A ConfigEntry as the loader writes it (wire contract): JSON payload, sha256 of the payload. */
export function configEntryBytes(
  key: string,
  value: unknown,
  extras: EntryExtras = {},
): Uint8Array {
  const payload = Buffer.from(JSON.stringify(value));
  return encodeMessage(ConfigEntry, {
    key,
    payload,
    contentType: "application/json",
    sha256: createHash("sha256").update(payload).digest("hex"),
    sourcePath: `${key.split(".").join("/")}.json`,
    updatedAtMs: Date.now(),
    publishedBy: "test",
    ...extras,
  });
}

export function sha256Of(value: unknown): string {
  return createHash("sha256")
    .update(Buffer.from(JSON.stringify(value)))
    .digest("hex");
}

function changeSetHeaders(id: string, size: number, del = false): MsgHdrs {
  const h = headers();
  h.set("Kon-Change-Set", id);
  h.set("Kon-Change-Set-Size", String(size));
  if (del) h.set("KV-Operation", "DEL");
  return h;
}

const subject = (group: string, key: string): string => `$KV.cfg_${group}.${key}`;

/** Writes one key as a lone change (change set of size 1). @returns its revision */
export async function putConfig(
  nc: NatsConnection,
  group: string,
  key: string,
  value: unknown,
  extras: EntryExtras = {},
): Promise<number> {
  const id = randomUUID();
  const ack = await jetstream(nc).publish(
    subject(group, key),
    configEntryBytes(key, value, { changeSetId: id, changeSetSize: 1, ...extras }),
    { headers: changeSetHeaders(id, 1), timeout: 2000 },
  );
  return ack.seq;
}

/** Deletes a key the way kv.delete does, with change-set headers. @returns its revision */
export async function deleteConfig(
  nc: NatsConnection,
  group: string,
  key: string,
): Promise<number> {
  const ack = await jetstream(nc).publish(subject(group, key), new Uint8Array(), {
    headers: changeSetHeaders(randomUUID(), 1, true),
  });
  return ack.seq;
}

/**
 * Writes several keys as one change set in one JetStream atomic batch (wire contract); a value
 * of `undefined` deletes its key. @returns the revision of the last message
 */
export async function putChangeSet(
  nc: NatsConnection,
  group: string,
  values: Record<string, unknown>,
  id: string = randomUUID(),
): Promise<number> {
  const keys = Object.keys(values);
  const n = keys.length;
  const message = (key: string): [string, Uint8Array, { headers: MsgHdrs }] => {
    const v = values[key];
    const del = v === undefined;
    const data = del
      ? new Uint8Array()
      : configEntryBytes(key, v, { changeSetId: id, changeSetSize: n });
    return [subject(group, key), data, { headers: changeSetHeaders(id, n, del) }];
  };
  const js = jetstream(nc);
  const [first, ...rest] = keys;
  if (first === undefined || rest.length === 0) throw new Error("a change set needs 2+ keys");
  const batch = await js.startBatch(...message(first));
  for (const key of rest.slice(0, -1)) batch.add(...message(key));
  const ack = await batch.commit(...message(rest[rest.length - 1]!));
  return ack.seq;
}
