import { headers } from "@nats-io/transport-node";
import { ChangeSetAssembler } from "../src/config/change-set-assembler";
import { deepFreeze } from "../src/config/deep-freeze";
import { changeFromKvMessage } from "../src/config/kv-message";
import type { ChangeBatch, RawChange } from "../src/config/raw-change";
import { stableHash, stableStringify } from "../src/config/stable-hash";
import { silentLogger } from "../src";
import { recordingLogger } from "./helpers/wait-for";

describe("changeFromKvMessage", () => {
  it("maps KV operations, server markers and change-set headers", () => {
    const put = headers();
    put.set("Kon-Change-Set", "cs1");
    put.set("Kon-Change-Set-Size", "3");
    expect(
      changeFromKvMessage("$KV.cfg_g.", "$KV.cfg_g.svc.db", put, new Uint8Array([1]), 4),
    ).toMatchObject({
      key: "svc.db",
      revision: 4,
      op: "put",
      changeSetId: "cs1",
      changeSetSize: 3,
    });
    const del = headers();
    del.set("KV-Operation", "DEL");
    expect(
      changeFromKvMessage("$KV.cfg_g.", "$KV.cfg_g.a", del, new Uint8Array(), 5),
    ).toMatchObject({
      op: "delete",
      changeSetId: "",
      changeSetSize: 1,
    });
    const marker = headers();
    marker.set("Nats-Marker-Reason", "MaxAge");
    expect(changeFromKvMessage("$KV.cfg_g.", "$KV.cfg_g.a", marker, new Uint8Array(), 6).op).toBe(
      "delete",
    );
    const bad = headers();
    bad.set("Kon-Change-Set-Size", "lots");
    expect(
      changeFromKvMessage("$KV.cfg_g.", "$KV.cfg_g.a", bad, new Uint8Array(), 7).changeSetSize,
    ).toBe(1);
  });
});

describe("ChangeSetAssembler", () => {
  const change = (key: string, revision: number, id = "", size = 1): RawChange => ({
    key,
    revision,
    op: "put",
    changeSetId: id,
    changeSetSize: size,
    origin: "nats",
  });
  const keysOf = (b: ChangeBatch): string => b.changes.map((c) => c.key).join(",");

  it("emits lone changes at once and a set once all its messages are in", () => {
    const out: ChangeBatch[] = [];
    const a = new ChangeSetAssembler((b) => out.push(b), silentLogger);
    a.push(change("x", 1));
    a.push(change("a", 2, "s", 3));
    a.push(change("b", 3, "s", 3));
    expect(out.map(keysOf)).toEqual(["x"]);
    a.push(change("c", 4, "s", 3));
    a.push(change("y", 5, "t", 1));
    expect(out.map(keysOf)).toEqual(["x", "a,b,c", "y"]);
    expect(out[1]!.changeSetId).toBe("s");
  });

  it("applies a partial set when another set's message arrives first, and says so", () => {
    const out: ChangeBatch[] = [];
    const logger = recordingLogger();
    const a = new ChangeSetAssembler((b) => out.push(b), logger);
    a.push(change("a", 1, "s", 3));
    a.push(change("b", 2, "s", 3));
    a.push(change("z", 3));
    expect(out.map(keysOf)).toEqual(["a,b", "z"]);
    expect(logger.lines[0]).toMatch(/change set s: applying 2 of 3 keys/);
  });

  it("applies an incomplete set after the flush delay, and drops it on clear", async () => {
    const out: ChangeBatch[] = [];
    const a = new ChangeSetAssembler((b) => out.push(b), silentLogger, 20);
    a.push(change("a", 1, "s", 2));
    await new Promise((r) => setTimeout(r, 60));
    expect(out.map(keysOf)).toEqual(["a"]);
    a.push(change("b", 2, "u", 2));
    a.clear();
    await new Promise((r) => setTimeout(r, 60));
    expect(out).toHaveLength(1);
  });
});

describe("deepFreeze and stableHash", () => {
  it("freezes nested objects and arrays once", () => {
    const v = deepFreeze({ a: { b: [1, { c: 2 }] }, bytes: new Uint8Array([1]) });
    expect(Object.isFrozen(v.a.b[1])).toBe(true);
    expect(Object.isFrozen(v.a.b)).toBe(true);
    expect(deepFreeze(v)).toBe(v);
    expect(deepFreeze(null)).toBeNull();
  });

  it("hashes equal values equally whatever the key order", () => {
    expect(stableStringify({ b: 1, a: { d: [1, 2], c: undefined } })).toBe(
      '{"a":{"d":[1,2]},"b":1}',
    );
    expect(stableHash({ x: 1, y: 2 })).toBe(stableHash({ y: 2, x: 1 }));
    expect(stableHash({ x: 1 })).not.toBe(stableHash({ x: 2 }));
    expect(stableHash(undefined)).toBe(stableHash(undefined));
    expect(stableHash(new Date(0))).toBe(stableHash("1970-01-01T00:00:00.000Z"));
  });
});
