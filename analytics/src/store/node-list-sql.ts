import { escapeLiteral } from "pg";
import type { DisplayStatus, NodeDetail, NodeKey } from "../model/fleet-node";

/** Which rows of `node_state` a list reads; all fields are optional conditions. */
export interface NodeRowFilter {
  group?: string;
  status?: DisplayStatus;
  /** Rows strictly after this key. */
  after?: NodeKey;
}

const lit = escapeLiteral;

const msOf = (col: string): string =>
  `COALESCE(floor(extract(epoch FROM ${col}) * 1000)::int8::text, 'null')`;
const jsonOf = (col: string): string => `COALESCE(to_json(${col})::text, 'null')`;
const keyJson = "to_json(k)::text || ':' || ";
const field = (name: string): string => `COALESCE((config->k->'${name}')::text, 'null')`;

// A key is flagged when the node reports a rejected (refused by its schema) or pending (waiting
// for activate_at or a strong commit) revision newer than the one it runs. Nodes without one
// (almost all) skip the per-key scan: the jsonpath test is a fraction of its cost.
const FLAGGED = `jsonb_path_exists(config,
  '$.* ? (@.rejectedRevision > @.revision || @.pendingRevision > @.revision)')`;
const FLAGS = `CASE WHEN ${FLAGGED} THEN (SELECT
    COALESCE(string_agg(${keyJson}${field("rejectedRevision")}, ',')
      FILTER (WHERE config->k->'rejectedRevision' > config->k->'revision'), '')
    || '},"configPending":{' ||
    COALESCE(string_agg(${keyJson}${field("pendingRevision")}, ',')
      FILTER (WHERE config->k->'pendingRevision' > config->k->'revision'), '')
    FROM jsonb_object_keys(config) k)
  ELSE '},"configPending":{' END`;

const CONFIG: Record<NodeDetail, string> = {
  compact: `'{' || COALESCE((SELECT string_agg(${keyJson}${field("revision")}, ',')
                              FROM jsonb_object_keys(config) k), '') || '}'`,
  full: "config::text",
};

/**
 * The parts of a node's JSON object (the fields of `FleetNode`, in its order) that change only
 * with the row's `version`, formatted by PostgreSQL as text: `head` up to the status, `mid` from
 * `liveness` to `flappingAtMs`, `tail` from `instanceId` on. The status (it depends on the time:
 * a flapping mark expires) and the beat fields go between them when a list is assembled.
 */
export function nodeJsonPartsSql(detail: NodeDetail): { head: string; mid: string; tail: string } {
  return {
    head: `'{"group":' || to_json(group_name)::text || ',"node":' || to_json(node_id)::text`,
    mid: [
      `',"liveness":' || to_json(status)::text`,
      `',"sinceMs":' || ${msOf("status_since")}`,
      `',"suspect":' || suspect::text`,
      `',"flappingAtMs":' || ${msOf("flapping_at")}`,
    ].join(" || "),
    tail: [
      `',"instanceId":' || ${jsonOf("instance_id")}`,
      `',"intervalMs":' || COALESCE(interval_ms::text, 'null')`,
      `',"hostname":' || ${jsonOf("hostname")}`,
      `',"serviceName":' || ${jsonOf("service_name")}`,
      `',"sdkVersion":' || ${jsonOf("sdk_version")}`,
      `',"config":' || ${CONFIG[detail]}`,
      `',"configRejected":{' || ${FLAGS} || '}}'`,
    ].join(" || "),
  };
}

/**
 * The WHERE condition for `filter`, with quoted literals (COPY takes no parameters). Keys are
 * compared as a row, `(group_name, node_id) > (…)`, which the primary key index serves.
 */
export function nodeWhereSql(filter: NodeRowFilter, flappingCutMs: number): string {
  const flapping = flappingSql(flappingCutMs);
  const where: string[] = [];
  if (filter.group !== undefined) where.push(`group_name = ${lit(filter.group)}`);
  if (filter.status === "flapping") where.push(flapping);
  else if (filter.status !== undefined) {
    where.push(`status = ${lit(filter.status)} AND NOT ${flapping}`);
  }
  const key = (k: NodeKey): string => `(${lit(k.group)}, ${lit(k.node)})`;
  if (filter.after) where.push(`(group_name, node_id) > ${key(filter.after)}`);
  return where.length > 0 ? where.join(" AND ") : "true";
}

export function flappingSql(flappingCutMs: number): string {
  return `COALESCE(flapping_at > ${lit(new Date(flappingCutMs).toISOString())}::timestamptz, false)`;
}
