import { nodeCursorParam } from "@konorkestra/sdk/internal";
import { z } from "zod";
import { DISPLAY_STATUSES } from "../model/fleet-node";
import { groupParam, wholeNumberParam } from "./query";

// The node cursor (opaque base64url of `["<group>","<node>"]`, refused unless it names a valid
// group and node id) lives in the sdk's http-edge, shared with the monitor's /v1/nodes.
export { encodeNodeCursor, nodeCursorParam } from "@konorkestra/sdk/internal";

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
