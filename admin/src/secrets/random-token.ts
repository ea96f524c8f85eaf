import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * A random secret token: `<kind>_<43 base64url characters>` (256 bits). The kind (`kb` bootstrap,
 * `ki` invitation, `kr` refresh) says what it is when one turns up somewhere it should not.
 */
export function randomToken(kind: "kb" | "ki" | "kr"): string {
  return `${kind}_${randomBytes(32).toString("base64url")}`;
}

/**
 * What is stored of a high-entropy token: its SHA-256 (hex). A 256-bit random token cannot be
 * guessed from its hash, so no slow hash is needed; passwords and join keys get argon2id.
 */
export function tokenHash(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Compares two hex hashes in constant time. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}
