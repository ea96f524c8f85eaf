import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { webhookSignature } from "@konorkestra/sdk/internal";

/** A webhook secret written (0600) into `dir`, as `make up` writes `loader-webhook.secret`. */
export function writeWebhookSecret(dir: string): { file: string; secret: string } {
  const secret = "test-webhook-secret-0123456789";
  const file = join(dir, "loader-webhook.secret");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { file, secret };
}

/** `POST /v1/_refresh` as a git host sends it: a JSON body signed with the shared secret. */
export function signedRefresh(
  baseUrl: string,
  secret: string,
  body = '{"ref":"refs/heads/main"}',
): Promise<Response> {
  return fetch(`${baseUrl}/v1/_refresh`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-hub-signature-256": webhookSignature(secret, body),
    },
    body,
  });
}
