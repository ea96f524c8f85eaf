import { createHmac, timingSafeEqual } from "node:crypto";

/** The header git hosting services sign their webhooks with. */
export const WEBHOOK_SIGNATURE_HEADER = "X-Hub-Signature-256";
const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** `sha256=<hex HMAC-SHA256 of body keyed with secret>`, the value of {@link WEBHOOK_SIGNATURE_HEADER}. */
export function webhookSignature(secret: string | Buffer, body: Buffer | string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/**
 * True when `header` is the HMAC-SHA256 of the raw `body` under `secret`, compared in constant
 * time. A missing or malformed header is false, never an exception.
 */
export function verifyWebhookSignature(
  secret: string | Buffer,
  body: Buffer,
  header: string | undefined,
): boolean {
  const m = header === undefined ? null : SIGNATURE.exec(header.trim());
  if (!m) return false;
  const given = Buffer.from(m[1]!.toLowerCase(), "hex");
  const expected = createHmac("sha256", secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}
