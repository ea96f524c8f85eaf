import type { IncomingMessage } from "node:http";
import { AgentErrorCode, AgentHttpError } from "./agent-http-error";

/**
 * Reads a JSON body of at most `limit` bytes. A larger body is refused as soon as it crosses the
 * limit (413), before it is buffered, so one client cannot make the agent hold megabytes. An
 * empty body is `{}`.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new AgentHttpError(AgentErrorCode.InvalidInput, "request body is not valid JSON", {
      reason: err instanceof Error ? err.message : String(err),
    });
  }
}

function tooLarge(limit: number): AgentHttpError {
  // The rest of the body is not read: the connection cannot be reused.
  return new AgentHttpError(
    AgentErrorCode.PayloadTooLarge,
    `request body over ${limit} bytes`,
    { limit },
    { connection: "close" },
  );
}
