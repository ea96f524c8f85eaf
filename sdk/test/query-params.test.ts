// The sdk's query-parameter rules every service's HTTP API parses its input with.
import { z } from "zod";
import { KonErrorCode } from "../src/errors";
import {
  groupParam,
  nodeParam,
  parseInput,
  quoteRefused,
  strictQuery,
  wholeNumberParam,
} from "../src/internal";

const query = strictQuery({
  group: z.string().regex(/^[a-z]+$/, "use a-z"),
  limit: wholeNumberParam(1, 1000),
  status: z.enum(["up", "down"]).optional(),
});

function refusal(input: unknown, where?: string): { code: unknown; message: string } {
  try {
    parseInput(query, input, where);
  } catch (err) {
    return { code: (err as { code?: unknown }).code, message: (err as Error).message };
  }
  throw new Error("parseInput accepted the input");
}

describe("parseInput", () => {
  it("names a required parameter that was not given, instead of zod's type message", () => {
    expect(refusal({ group: "shop" })).toEqual({
      code: KonErrorCode.QueryInvalid,
      message: "query parameter 'limit' is required",
    });
    expect(refusal({ limit: "5" }).message).toBe("query parameter 'group' is required");
    expect(refusal({}, "path").message).toBe("path 'group' is required");
    // A null-prototype object, as express's simple query parser gives.
    const bare = Object.assign(Object.create(null) as object, { limit: "5" });
    expect(refusal(bare).message).toBe("query parameter 'group' is required");
  });

  it("keeps the other messages as they were", () => {
    expect(refusal({ group: "shop", limit: "x" }).message).toBe(
      "invalid query parameter limit: must be a whole number",
    );
    expect(refusal({ group: "shop", limit: "0" }).message).toBe(
      "invalid query parameter limit: at least 1",
    );
    expect(refusal({ group: "Shop", limit: "5" }).message).toBe(
      "invalid query parameter group: use a-z",
    );
    expect(refusal({ group: "shop", limit: "5", status: "sideways" }).message).toMatch(
      /^invalid query parameter status: /,
    );
    expect(refusal({ group: "shop", limit: "5", grup: "x" }).message).toMatch(
      /^invalid query parameter input: Unrecognized key/,
    );
    expect(refusal({ group: ["a", "b"], limit: "5" }).message).toBe(
      "invalid query parameter group: given more than once; give it once",
    );
  });

  it("a parameter of the wrong type that was given is not called missing", () => {
    const nested = strictQuery({ item: z.object({ key: z.string() }) });
    expect(() => parseInput(nested, { item: { key: 5 } }, "body")).toThrow(
      "invalid body item.key: Invalid input: expected string, received number",
    );
    expect(() => parseInput(nested, { item: {} }, "body")).toThrow("body 'item.key' is required");
    expect(() => parseInput(nested, { item: "x" }, "body")).toThrow(
      "invalid body item: Invalid input: expected object, received string",
    );
  });

  it("accepts valid input", () => {
    expect(parseInput(query, { group: "shop", limit: "10" })).toEqual({
      group: "shop",
      limit: 10,
    });
  });
});

describe("name parameters (analytics and the monitor)", () => {
  const path = z.object({ group: groupParam, node: nodeParam });
  const message = (input: unknown) => {
    try {
      parseInput(path, input, "path parameter");
    } catch (err) {
      return (err as Error).message;
    }
    return "accepted";
  };

  it("refuses what the sdk's name rules refuse, naming the parameter", () => {
    expect(message({ group: "shop", node: "n-1_A=" })).toBe("accepted");
    expect(message({ group: "shop", node: "a.b" })).toBe(
      "invalid path parameter node: invalid node id \"a.b\": use letters, digits, '_', '-' or '=' (no dots, spaces or wildcards)",
    );
    expect(message({ group: "Shop", node: "n1" })).toBe(
      "invalid path parameter group: use 1-63 of [a-z0-9-], starting with a letter or digit",
    );
  });

  it("quotes at most 40 characters of a refused value", () => {
    const huge = "y".repeat(5000);
    const m = message({ group: "shop", node: huge });
    expect(m).toBe(
      `invalid path parameter node: invalid node id "${"y".repeat(40)}"… (5000 characters): length must be 1-128`,
    );
    expect(quoteRefused("short")).toBe('"short"');
    expect(quoteRefused("z".repeat(41))).toBe(`"${"z".repeat(40)}"… (41 characters)`);
  });
});
