import { z } from "zod";
import { InvalidNameError, KonError, KonErrorCode } from "../errors";
import { GROUP_NAME, assertConfigKey, assertNodeId, isGroupName, isNodeId } from "../wire/names";

/**
 * Validates request input with a zod schema; a failure is a KonError (QUERY_INVALID, HTTP 400)
 * naming the parameter and what is wrong with it ("query parameter 'limit' is required" when it
 * was not given). A repeated parameter (`?a=1&a=2`, which arrives as an array) is refused as such.
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  where = "query parameter",
): z.output<S> {
  if (typeof input === "object" && input !== null) {
    const repeated = Object.keys(input).find((k) =>
      Array.isArray((input as Record<string, unknown>)[k]),
    );
    if (repeated !== undefined) {
      throw new KonError(
        KonErrorCode.QueryInvalid,
        `invalid ${where} ${repeated}: given more than once; give it once`,
      );
    }
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join(".") || "input";
  // zod says "expected string, received undefined" of a parameter that was not given at all.
  if (
    issue.code === "invalid_type" &&
    issue.path.length > 0 &&
    valueAt(input, issue.path) === undefined
  ) {
    throw new KonError(KonErrorCode.QueryInvalid, `${where} '${field}' is required`);
  }
  throw new KonError(KonErrorCode.QueryInvalid, `invalid ${where} ${field}: ${issue.message}`);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const k of path) {
    if (typeof v !== "object" || v === null || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Longest part of a refused value an error message quotes. */
const QUOTED_CHARS = 40;

/**
 * A refused value as an error message quotes it: JSON-quoted, cut to 40 characters with its
 * length after, so a client that sends 5,000 characters does not get them back.
 */
export function quoteRefused(value: string): string {
  return value.length > QUOTED_CHARS
    ? `${JSON.stringify(value.slice(0, QUOTED_CHARS))}… (${value.length} characters)`
    : JSON.stringify(value);
}

/** The message of an {@link InvalidNameError} with the value quoted by {@link quoteRefused}. */
export function invalidNameMessage(err: InvalidNameError): string {
  const head = `invalid ${err.kind} ${JSON.stringify(err.value)}`;
  const reason = err.message.startsWith(head) ? err.message.slice(head.length) : `: ${err.message}`;
  return `invalid ${err.kind} ${quoteRefused(err.value)}${reason}`;
}

/** A name parameter checked by one of the sdk's name rules (`assertNodeId`…). */
function nameParam(assertName: (v: string) => string) {
  return z.string().superRefine((v, ctx) => {
    try {
      assertName(v);
    } catch (err) {
      const message =
        err instanceof InvalidNameError
          ? invalidNameMessage(err)
          : err instanceof Error
            ? err.message
            : String(err);
      ctx.addIssue({ code: "custom", message });
    }
  });
}

/** A group name (query or path parameter), by the sdk's {@link GROUP_NAME} rule. */
export const groupParam = z
  .string()
  .regex(GROUP_NAME, "use 1-63 of [a-z0-9-], starting with a letter or digit");

/** A node id (query or path parameter), by the sdk's `assertNodeId`. */
export const nodeParam = nameParam(assertNodeId);

/** A config key (query or path parameter), by the sdk's `assertConfigKey`. */
export const configKeyParam = nameParam(assertConfigKey);

/** Rejects unknown query parameters too, so a typo (`?grup=`) is an error, not a silent no-op. */
export const strictQuery = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape);

/**
 * A whole number from `min` to `max` as decimal digits (a `limit`): anything else is "must be a
 * whole number", "at least <min>" or "at most <max>", also for a number too large for a double.
 */
export function wholeNumberParam(min: number, max: number) {
  return z.string().transform((v, ctx) => {
    if (!/^\d+$/.test(v)) {
      ctx.addIssue({ code: "custom", message: "must be a whole number" });
      return z.NEVER;
    }
    const n = v.length > 15 ? Infinity : Number(v);
    if (n < min || n > max) {
      ctx.addIssue({ code: "custom", message: n < min ? `at least ${min}` : `at most ${max}` });
      return z.NEVER;
    }
    return n;
  });
}

/** A node named by its group and id (what a node-list cursor holds). */
export interface NodeCursorKey {
  group: string;
  node: string;
}

/** Largest page of a `/v1/nodes` list a client may ask for (no `limit`: the whole list). */
export const MAX_NODES_LIMIT = 10_000;

// A cursor names a node the API listed, so it holds a valid group and node id: anything else
// (a NUL, a dot, 10 kB of text) is refused here rather than by a store.
const keyShape = z.tuple([z.string().refine(isGroupName), z.string().refine(isNodeId)]);

/**
 * The `next` of a `/v1/nodes` page: the last node's key, opaque to clients (base64url of
 * `["<group>","<node>"]`), as etcd's and Kubernetes' continue tokens are.
 */
export function encodeNodeCursor(key: NodeCursorKey): string {
  return Buffer.from(JSON.stringify([key.group, key.node]), "utf8").toString("base64url");
}

/** The `cursor` query parameter: a `next` this API gave, decoded to the key it names. */
export const nodeCursorParam = z.string().transform((v, ctx): NodeCursorKey => {
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
