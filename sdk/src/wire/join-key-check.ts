import { GROUP_NAME } from "./names";

/**
 * The join-key check the liveness monitor asks of the admin service over NATS request-reply on
 * `<prefix>.admin.joinkey.verify` (docs/wire-contract.md, "Join-key check"). JSON both ways.
 */
export interface JoinKeyCheckRequest {
  /** The join key as the client presented it. */
  key: string;
  /** Where the client connected from (its address), for the admin's per-source rate limit. */
  host: string;
}

/**
 * The answer: the group the key admits to, or a refusal that says nothing about why (unknown,
 * wrong, revoked and expired keys look alike). `retryAfterMs`: the source is rate-limited;
 * `unavailable`: the admin could not decide (its database is down) — not a verdict on the key.
 */
export type JoinKeyCheckReply =
  { ok: true; group: string } | { ok: false; retryAfterMs?: number; unavailable?: boolean };

/** Longest key and host a request may carry; longer is refused unread. */
export const MAX_JOIN_KEY_LENGTH = 256;
const MAX_HOST_LENGTH = 256;

function json(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The request, or undefined when it is not one (not JSON, wrong types, too long). */
export function parseJoinKeyCheckRequest(data: Uint8Array): JoinKeyCheckRequest | undefined {
  const v = json(data);
  if (!isRecord(v)) return undefined;
  const { key, host } = v;
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_JOIN_KEY_LENGTH) {
    return undefined;
  }
  if (typeof host !== "string" || host.length > MAX_HOST_LENGTH) return undefined;
  return { key, host };
}

/** The reply, or undefined when it is not one (a reply that names no valid group is not a yes). */
export function parseJoinKeyCheckReply(data: Uint8Array): JoinKeyCheckReply | undefined {
  const v = json(data);
  if (!isRecord(v)) return undefined;
  if (v.ok === true) {
    return typeof v.group === "string" && GROUP_NAME.test(v.group)
      ? { ok: true, group: v.group }
      : undefined;
  }
  if (v.ok !== false) return undefined;
  const reply: JoinKeyCheckReply = { ok: false };
  if (typeof v.retryAfterMs === "number" && v.retryAfterMs > 0) {
    reply.retryAfterMs = Math.min(Math.ceil(v.retryAfterMs), 3_600_000);
  }
  if (v.unavailable === true) reply.unavailable = true;
  return reply;
}
