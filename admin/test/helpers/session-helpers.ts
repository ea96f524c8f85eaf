import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { AccessGate, RevocationList, accessTokenPublicKey } from "@konorkestra/sdk/internal";
import type { AdminHarness } from "./admin-harness";

/** A sign-in's answer, as the tests of sessions use it. */
export interface Session {
  adminId?: string;
  accessToken: string;
  refreshToken: string;
  accessExpiresAt: string;
}

/** The claims of a `kon1` token, read without checking it. */
export function claimsOf(token: string): { jti: string; sid?: string } {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as {
    jti: string;
    sid?: string;
  };
}

export function jtiOf(token: string): string {
  return claimsOf(token).jti;
}

export function sidOf(token: string): string {
  const sid = claimsOf(token).sid;
  if (sid === undefined) throw new Error("a session token without sid");
  return sid;
}

/** Polls `cond` every 20 ms for up to `ms`: true once it held. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function login(h: AdminHarness, email: string, password: string): Promise<Session> {
  const l = await h.http("POST", "/v1/auth/login", { body: { email, password } });
  if (l.status !== 200) throw new Error(l.text);
  return l.body as unknown as Session;
}

export async function refresh(h: AdminHarness, s: Session): Promise<Session> {
  const r = await h.http("POST", "/v1/auth/refresh", { body: { refreshToken: s.refreshToken } });
  if (r.status !== 200) throw new Error(r.text);
  return r.body as unknown as Session;
}

/**
 * Checks tokens as analytics and the monitor do: an AccessGate over a RevocationList of the
 * harness's admin. `gateStatus` is 200 or the gate's refusal status.
 */
export async function tokenGate(
  h: AdminHarness,
  name: string,
): Promise<{ nc: NatsConnection; list: RevocationList; gateStatus: (token: string) => number }> {
  const nc = await connect({ ...h.nats.clientOptions(), name });
  const list = RevocationList.start(nc, h.admin.names);
  await list.ready();
  const gate = new AccessGate({
    publicKey: accessTokenPublicKey(h.admin.publicKeyPem),
    revocations: list,
    requiredScope: "read",
  });
  const gateStatus = (token: string): number => {
    const r = gate.check(`Bearer ${token}`);
    return "claims" in r ? 200 : r.status;
  };
  return { nc, list, gateStatus };
}
