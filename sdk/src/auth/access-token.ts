import { createPublicKey, randomBytes, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { GROUP_NAME } from "../wire/names";

/**
 * Access tokens of Konorkestra's HTTP APIs: compact, Ed25519-signed, verified offline by every
 * service that holds the admin service's public key (docs/wire-contract.md, "Access tokens").
 *
 *     kon1.<base64url(JSON claims)>.<base64url(Ed25519 signature of "kon1.<claims part>")>
 */
export const ACCESS_TOKEN_VERSION = "kon1";

/** Scopes, each including the ones before it: `admin` ⊇ `write` ⊇ `read`. */
export const SCOPES = ["read", "write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** `session`: a signed-in admin (minutes); `api`: a long-lived token for CI and dashboards. */
export type AccessTokenType = "session" | "api";

/** What a token says. Times are whole seconds since the epoch, as in JWT. */
export interface AccessClaims {
  typ: AccessTokenType;
  /** Whom the token speaks for: the admin's id. */
  sub: string;
  scopes: Scope[];
  iat: number;
  /** Absent: the token does not expire (an API token without a lifetime); revocation ends it. */
  exp?: number;
  /** Token id: what revocation names. */
  jti: string;
  /**
   * Session id (session tokens): the same in every access token of one sign-in, across its
   * refreshes, so that revoking it ({@link sessionRevocationKey}) ends all of them at once.
   * Absent (API tokens, session tokens signed before it existed): only `jti` revokes the token.
   */
  sid?: string;
  /**
   * Absent: every group. Set (API tokens only): the only groups the token may read or change;
   * a route about another group refuses it (see {@link groupAllowed}).
   */
  groups?: string[];
}

/** Most groups one token may be limited to. */
export const MAX_TOKEN_GROUPS = 100;

/** True when `claims` may act on `group`: the token has no group limit, or lists it. */
export function groupAllowed(claims: Pick<AccessClaims, "groups">, group: string): boolean {
  return claims.groups === undefined || claims.groups.includes(group);
}

/** Why a token was refused. */
export type AccessRefusal =
  "malformed" | "bad_signature" | "expired" | "revoked" | "insufficient_scope";

export type AccessVerdict =
  { ok: true; claims: AccessClaims } | { ok: false; reason: AccessRefusal; message: string };

export interface VerifyAccessOptions {
  /** Clock in ms since the epoch. @default Date.now() */
  now?: number;
  /** The scope the caller needs; a token holding a wider scope passes. */
  requiredScope?: Scope;
  /**
   * True when this key of the revocation list is present (e.g. `RevocationList.has`). Asked for
   * the token's `jti` and, when the token names its session, for `sessionRevocationKey(sid)`.
   */
  isRevoked?: (key: string) => boolean;
}

/**
 * The key under which a signed-out session is listed in the revocation bucket: `sid.<sid>`. The
 * dot keeps it apart from token ids, which never contain one (see {@link TOKEN_ID}).
 */
export function sessionRevocationKey(sid: string): string {
  return `sid.${sid}`;
}

/**
 * True when the list names the token (`jti`) or its session (`sid`): the one revocation rule of
 * every verifier, the verified-token cache of `AccessGate` included.
 */
export function tokenRevoked(
  claims: Pick<AccessClaims, "jti" | "sid">,
  list: { has(key: string): boolean },
): boolean {
  return (
    list.has(claims.jti) || (claims.sid !== undefined && list.has(sessionRevocationKey(claims.sid)))
  );
}

/** Longest token accepted; anything longer is malformed before any parsing. */
export const MAX_ACCESS_TOKEN_LENGTH = 4096;
const B64URL = /^[A-Za-z0-9_-]+$/;
/** Token and session ids: 1-64 base64url characters, so each is a valid KV key and subject token. */
export const TOKEN_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SUBJECT = /^[A-Za-z0-9_.@:-]{1,128}$/;

/**
 * The admin service's public key from its PEM text (the `.pub` file next to its signing key);
 * throws unless it is an Ed25519 key.
 */
export function accessTokenPublicKey(pem: string | Buffer): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== "ed25519") {
    throw new Error(`access-token public key must be Ed25519, not ${key.asymmetricKeyType}`);
  }
  return key;
}

/** A fresh random token id (128 bits, base64url). */
export function newTokenId(): string {
  return randomBytes(16).toString("base64url");
}

/** True when `held` grants `required` (`admin` ⊇ `write` ⊇ `read`). */
export function scopeAllows(held: readonly Scope[], required: Scope): boolean {
  const need = SCOPES.indexOf(required);
  return held.some((s) => SCOPES.indexOf(s) >= need);
}

/** Signs `claims` with the admin service's Ed25519 private key. Throws on invalid claims. */
export function signAccessToken(privateKey: KeyObject, claims: AccessClaims): string {
  const problem = claimsProblem(claims);
  if (problem) throw new Error(`cannot sign access token: ${problem}`);
  const ordered: AccessClaims = {
    typ: claims.typ,
    sub: claims.sub,
    scopes: [...claims.scopes],
    iat: claims.iat,
    ...(claims.exp !== undefined ? { exp: claims.exp } : {}),
    jti: claims.jti,
    ...(claims.sid !== undefined ? { sid: claims.sid } : {}),
    ...(claims.groups !== undefined ? { groups: [...claims.groups] } : {}),
  };
  const head = `${ACCESS_TOKEN_VERSION}.${Buffer.from(JSON.stringify(ordered)).toString("base64url")}`;
  const sig = sign(null, Buffer.from(head, "ascii"), privateKey);
  return `${head}.${sig.toString("base64url")}`;
}

/**
 * Checks a token, in this order: its shape (`malformed`), the signature (`bad_signature`),
 * expiry (`expired`), revocation (`revoked`), then scope (`insufficient_scope`). Never throws for
 * bad input. Messages name the reason only, never the token.
 */
export function verifyAccessToken(
  publicKey: KeyObject,
  token: string,
  opts: VerifyAccessOptions = {},
): AccessVerdict {
  const refuse = (reason: AccessRefusal, message: string): AccessVerdict => ({
    ok: false,
    reason,
    message,
  });
  if (typeof token !== "string" || token.length > MAX_ACCESS_TOKEN_LENGTH) {
    return refuse("malformed", "access token is not a kon1 token");
  }
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== ACCESS_TOKEN_VERSION) {
    return refuse("malformed", "access token is not a kon1 token");
  }
  const [, body, sig] = parts as [string, string, string];
  if (!B64URL.test(body) || !B64URL.test(sig)) {
    return refuse("malformed", "access token is not base64url");
  }
  let ok: boolean;
  try {
    ok = verify(
      null,
      Buffer.from(`${ACCESS_TOKEN_VERSION}.${body}`, "ascii"),
      publicKey,
      Buffer.from(sig, "base64url"),
    );
  } catch {
    ok = false;
  }
  if (!ok) return refuse("bad_signature", "access token signature does not verify");
  const claims = decodeClaims(body);
  if (typeof claims === "string") return refuse("malformed", `access token claims: ${claims}`);
  const nowSec = (opts.now ?? Date.now()) / 1000;
  if (claims.exp !== undefined && nowSec >= claims.exp) {
    return refuse("expired", "access token has expired");
  }
  if (opts.isRevoked && tokenRevoked(claims, { has: opts.isRevoked })) {
    return refuse("revoked", "access token has been revoked");
  }
  if (opts.requiredScope && !scopeAllows(claims.scopes, opts.requiredScope)) {
    return refuse("insufficient_scope", `access token lacks the '${opts.requiredScope}' scope`);
  }
  return { ok: true, claims };
}

/** Claims from the signed part, or what is wrong with them. */
function decodeClaims(body: string): AccessClaims | string {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    return "not JSON";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not an object";
  const problem = claimsProblem(value as AccessClaims);
  return problem ?? (value as AccessClaims);
}

function claimsProblem(c: AccessClaims): string | undefined {
  const allowed = new Set(["typ", "sub", "scopes", "iat", "exp", "jti", "sid", "groups"]);
  const extra = Object.keys(c).find((k) => !allowed.has(k));
  if (extra !== undefined) return `unknown field ${JSON.stringify(extra)}`;
  if (c.typ !== "session" && c.typ !== "api") return "typ must be session or api";
  if (typeof c.sub !== "string" || !SUBJECT.test(c.sub)) return "sub is not a valid subject";
  if (
    !Array.isArray(c.scopes) ||
    c.scopes.length === 0 ||
    !c.scopes.every((s) => (SCOPES as readonly string[]).includes(s))
  ) {
    return "scopes must be a non-empty list of read, write, admin";
  }
  if (!Number.isSafeInteger(c.iat) || c.iat < 0) return "iat must be whole seconds";
  if (c.exp !== undefined && (!Number.isSafeInteger(c.exp) || c.exp <= c.iat)) {
    return "exp must be whole seconds after iat";
  }
  if (typeof c.jti !== "string" || !TOKEN_ID.test(c.jti)) return "jti is not a valid token id";
  if (c.sid !== undefined && (typeof c.sid !== "string" || !TOKEN_ID.test(c.sid))) {
    return "sid is not a valid session id";
  }
  if (
    c.groups !== undefined &&
    (!Array.isArray(c.groups) ||
      c.groups.length === 0 ||
      c.groups.length > MAX_TOKEN_GROUPS ||
      !c.groups.every((g) => typeof g === "string" && GROUP_NAME.test(g)))
  ) {
    return `groups must be a list of 1-${MAX_TOKEN_GROUPS} group names`;
  }
  return undefined;
}
