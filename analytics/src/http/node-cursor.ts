import { isGroupName, isNodeId } from "@konorkestra/sdk/internal";
import { z } from "zod";
import { DISPLAY_STATUSES } from "../model/fleet-node";
import type { NodeKey } from "../model/fleet-node";
import { groupParam, wholeNumberParam } from "./query";

// A cursor names a node this API listed, so it holds a valid group and node id: anything else
// (a NUL, a dot, 10 kB of text) is refused here rather than by PostgreSQL.
const keyShape = z.tuple([z.string().refine(isGroupName), z.string().refine(isNodeId)]);

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

/** Largest page the page-scoped endpoints (drift of a page, uptime of a page) read. */
export const MAX_PAGE_NODES = 1000;

/**
 * The query parameters that name a /v1/nodes page (`group`, `status`, `limit`, `cursor`, as the
 * list takes them), for endpoints that answer about the nodes of the page a dashboard shows.
 */
export const pageParams = {
  group: groupParam.optional(),
  status: z.enum(DISPLAY_STATUSES).optional(),
  limit: wholeNumberParam(1, MAX_PAGE_NODES),
  cursor: nodeCursorParam.optional(),
};
