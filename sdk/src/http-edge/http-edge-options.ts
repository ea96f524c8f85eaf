import { readFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { z } from "zod";
import { accessTokenPublicKey } from "../auth/access-token";
import { KonError, KonErrorCode } from "../errors";
import { envBool, envList, envString } from "../options/env-readers";
import { CorsPolicy } from "./cors-policy";
import { HostAllowList } from "./host-allow-list";

/** Options of every Konorkestra HTTP service's edge (Host allow-list and CORS). */
export interface HttpEdgeOptions {
  /**
   * Host names the service answers besides `localhost`, `127.0.0.1` and `[::1]` on its own port
   * (KON_HTTP_ALLOWED_HOSTS, comma-separated `name` or `name:port`; `*` turns the check off).
   * Requests naming any other Host get 421, against DNS rebinding. @default []
   */
  allowedHosts?: string[];
  /**
   * Origins whose pages may call the API from a browser (KON_HTTP_CORS_ORIGINS, comma-separated
   * `scheme://host[:port]`). @default [] (CORS off)
   */
  corsOrigins?: string[];
}

/** Options of a service whose API needs access tokens. */
export interface AccessAuthOptions {
  /**
   * PEM file of the admin service's Ed25519 public key that verifies access tokens
   * (KON_AUTH_PUBLIC_KEY_FILE; `make up` passes `.stack/secrets/admin-signing-key.pem.pub`).
   */
  authPublicKeyFile?: string;
  /**
   * Require access tokens (KON_AUTH). `false` (KON_AUTH=off) serves the API to anyone, for local
   * development only; the service warns at start. @default true
   */
  auth?: boolean;
}

function validates(make: (list: string[]) => unknown) {
  return z.array(z.string()).superRefine((list, ctx) => {
    try {
      make(list);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  });
}

/** Zod shape of {@link HttpEdgeOptions} and {@link AccessAuthOptions}, for a service's schema. */
export const httpEdgeOptionsShape = {
  allowedHosts: validates((l) => new HostAllowList(l)),
  corsOrigins: validates((l) => new CorsPolicy(l)),
};
export const accessAuthOptionsShape = {
  authPublicKeyFile: z.string().min(1).optional(),
  auth: z.boolean(),
};

/** {@link HttpEdgeOptions} given, then KON_* variables, then defaults (not yet validated). */
export function mergeHttpEdgeOptions(given: HttpEdgeOptions, env: NodeJS.ProcessEnv) {
  return {
    allowedHosts: given.allowedHosts ?? envList(env, "KON_HTTP_ALLOWED_HOSTS") ?? [],
    corsOrigins: given.corsOrigins ?? envList(env, "KON_HTTP_CORS_ORIGINS") ?? [],
  };
}

/** {@link AccessAuthOptions} given, then KON_* variables, then defaults (not yet validated). */
export function mergeAccessAuthOptions(given: AccessAuthOptions, env: NodeJS.ProcessEnv) {
  return {
    authPublicKeyFile: given.authPublicKeyFile ?? envString(env, "KON_AUTH_PUBLIC_KEY_FILE"),
    auth: given.auth ?? envBool(env, "KON_AUTH") ?? true,
  };
}

/** How a service checks access tokens: with the admin's key, or (explicitly) not at all. */
export type AccessAuthMode = { mode: "on"; publicKey: KeyObject } | { mode: "off" };

/**
 * Reads the public key named by the options. Throws a KonError when tokens are required and no
 * key is configured, or when the file cannot be read or holds no Ed25519 public key; the
 * message names the file and the reason, never its content.
 */
export function resolveAccessAuth(
  opts: { authPublicKeyFile?: string | undefined; auth: boolean },
  service: string,
): AccessAuthMode {
  if (!opts.auth) return { mode: "off" };
  const file = opts.authPublicKeyFile;
  if (file === undefined) {
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `${service} needs the admin service's public key to check access tokens: set KON_AUTH_PUBLIC_KEY_FILE (make up uses .stack/secrets/admin-signing-key.pem.pub), or KON_AUTH=off for local development without tokens`,
    );
  }
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (err) {
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `cannot read the access-token public key file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  try {
    return { mode: "on", publicKey: accessTokenPublicKey(pem) };
  } catch (err) {
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `access-token public key file ${file} holds no usable key: ${(err as Error).message.split("\n")[0]}`,
    );
  }
}

/**
 * A shared secret from a file (webhook secrets): the content without surrounding blanks, at least
 * `minLength` characters. Errors name the file and the reason, never the content.
 */
export function readSecretFile(file: string, what: string, minLength = 16): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  if (text.length < minLength) {
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `the ${what} file ${file} holds ${text.length === 0 ? "nothing" : "too short a secret"}; use at least ${minLength} characters`,
    );
  }
  return text;
}
