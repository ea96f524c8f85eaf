import { createHash, randomBytes } from "node:crypto";

/** Crockford's base32 alphabet: digits and capitals without I, L, O and U. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/** Characters of the key id (40 bits): the part stored in clear, for lookup. */
export const KEY_ID_CHARS = 8;
/** Characters of the secret (140 bits): stored only as an argon2id hash. */
export const SECRET_CHARS = 28;
const KEY_CHARS = KEY_ID_CHARS + SECRET_CHARS;
const GROUP = 4;

/** A join key taken apart: what is looked up and what is verified. */
export interface JoinKeyParts {
  keyId: string;
  secret: string;
}

function randomChars(n: number): string {
  // 256 is a multiple of 32, so the low five bits of a random byte are uniform.
  return [...randomBytes(n)].map((b) => ALPHABET[b & 31]).join("");
}

/** A new join key: a fresh key id and 140-bit secret. */
export function newJoinKey(): JoinKeyParts {
  return { keyId: randomChars(KEY_ID_CHARS), secret: randomChars(SECRET_CHARS) };
}

/**
 * How a key is shown (once) to a person: 36 characters in nine groups of four,
 * `KKKK-KKKK-SSSS-…-SSSS`; the first two groups are the key id.
 */
export function formatJoinKey(key: JoinKeyParts): string {
  const all = key.keyId + key.secret;
  const groups: string[] = [];
  for (let i = 0; i < all.length; i += GROUP) groups.push(all.slice(i, i + GROUP));
  return groups.join("-");
}

/**
 * Reads a key as a person may type it: any case, with or without dashes and spaces, and with the
 * look-alikes Crockford forgives (O → 0; I and L → 1). Undefined when it cannot be a key.
 */
export function parseJoinKey(input: string): JoinKeyParts | undefined {
  if (typeof input !== "string" || input.length > 128) return undefined;
  const canon = input.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  if (canon.length !== KEY_CHARS || ![...canon].every((c) => ALPHABET.includes(c))) {
    return undefined;
  }
  return { keyId: canon.slice(0, KEY_ID_CHARS), secret: canon.slice(KEY_ID_CHARS) };
}

/** Key ids as they appear in URLs and logs, checked before any lookup. */
export function isKeyId(value: string): boolean {
  return value.length === KEY_ID_CHARS && [...value].every((c) => ALPHABET.includes(c));
}

/** A digest of a whole key for the in-memory cache of checked keys (never stored or logged). */
export function joinKeyDigest(key: JoinKeyParts): string {
  return createHash("sha256").update(`${key.keyId}:${key.secret}`).digest("hex");
}
