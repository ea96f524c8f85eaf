import { isUtf8 } from "node:buffer";

// PostgreSQL text cannot hold NUL. Rather than fail a whole batch for one value, every NUL that
// comes off the wire is stored as U+FFFD; this module is the one place that rule is written.

/** U+FFFD, what a NUL is stored as. */
export const NUL_REPLACEMENT = "\uFFFD";
/** {@link NUL_REPLACEMENT} as UTF-8 bytes. */
export const NUL_REPLACEMENT_UTF8 = Buffer.from(NUL_REPLACEMENT, "utf8");

/** `s` as PostgreSQL can store it: NUL replaced by U+FFFD. */
export function pgText(s: string): string {
  return s.includes("\0") ? s.replace(/\0/g, NUL_REPLACEMENT) : s;
}

/**
 * Whether bytes [start, end) of `data` may be stored as PostgreSQL text: `ok` (valid UTF-8
 * without NUL), `nul` (valid, but with NUL to replace) or `invalid` (not UTF-8). ASCII, the
 * common case, is checked by a plain loop; anything else by Node's validator.
 */
export function pgTextCheck(
  data: Uint8Array,
  start: number,
  end: number,
): "ok" | "nul" | "invalid" {
  let ascii = true;
  let nul = false;
  for (let i = start; i < end; i++) {
    const b = data[i]!;
    if (b === 0) nul = true;
    else if (b >= 0x80) ascii = false;
  }
  if (!ascii && !isUtf8(data.subarray(start, end))) return "invalid";
  return nul ? "nul" : "ok";
}
