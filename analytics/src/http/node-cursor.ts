import { z } from "zod";
import type { NodeKey } from "../model/fleet-node";

const keyShape = z.tuple([z.string().min(1).max(256), z.string().min(1).max(256)]);

/**
 * The `next` of a /v1/nodes page: the last node's key, opaque to clients (base64url of
 * `["<group>","<node>"]`), as etcd's and Kubernetes' continue tokens are.
 */
export function encodeNodeCursor(key: NodeKey): string {
  return Buffer.from(JSON.stringify([key.group, key.node]), "utf8").toString("base64url");
}

/** The `cursor` query parameter: a `next` this API gave, decoded to the key it names. */
export const nodeCursorParam = z.string().transform((v, ctx): NodeKey => {
  let parsed: unknown;
  try {
    parsed = /^[A-Za-z0-9_-]+$/.test(v)
      ? JSON.parse(Buffer.from(v, "base64url").toString("utf8"))
      : undefined;
  } catch {
    parsed = undefined;
  }
  const key = keyShape.safeParse(parsed);
  if (!key.success) {
    ctx.addIssue({
      code: "custom",
      message: "not a cursor this API gave out (pass the 'next' of the previous page unchanged)",
    });
    return z.NEVER;
  }
  return { group: key.data[0], node: key.data[1] };
});
