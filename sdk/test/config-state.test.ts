import { z } from "zod";
import { ConfigEntry, decodeMessage } from "@konorkestra/proto";
import { AppliedRegistry } from "../src/applied-registry";
import { silentLogger } from "../src";
import type { ConfigMeta } from "../src";
import type { HandleView, HandlerCall } from "../src/config/config-handle";
import { ConfigState } from "../src/config/config-state";
import type { RawChange } from "../src/config/raw-change";
import { configEntryBytes } from "./helpers/put-config";

const S = z.object({ v: z.number() });

function put(key: string, revision: number, value: unknown, setId = "", size = 1): RawChange {
  return {
    key,
    revision,
    op: "put",
    data: configEntryBytes(key, value),
    changeSetId: setId,
    changeSetSize: size,
    origin: "nats",
  };
}

/** A stand-in handle that records the swaps it is told about. */
function probe(
  key: string,
  state: ConfigState,
  schema = S,
): { view: HandleView; swaps: unknown[][] } {
  const att = state.attach(key, schema);
  const swaps: unknown[][] = [];
  const view: HandleView = {
    key,
    get value() {
      return att.record.slot.value;
    },
    refusalCalls: () => [],
    callsFor(prev: unknown, meta: ConfigMeta): HandlerCall[] {
      swaps.push([prev, att.record.slot.value, meta.revision]);
      return [];
    },
  };
  att.record.handles.add(view);
  return { view, swaps };
}

function notify(out: ReturnType<ConfigState["apply"]>): void {
  for (const n of out.notifications) for (const h of n.handles) h.callsFor(n.prev, n.meta);
}

describe("ConfigState", () => {
  it("parses once per revision and schema, shared by handles of that schema", () => {
    const state = new ConfigState(new AppliedRegistry(), silentLogger);
    state.apply({
      kind: "load",
      changes: [put("k", 1, { v: 1 })],
      changeSetId: "initial",
      complete: true,
    });
    const a = state.attach("k", S);
    const b = state.attach("k", S);
    expect(b.shared).toBe(true);
    expect(a.record.slot.value).toBe(b.record.slot.value);
    const other = state.attach("k", z.object({ v: z.number() }));
    expect(other.record).not.toBe(a.record);
    expect(other.record.slot.value).toEqual({ v: 1 });
  });

  it("notifies only when the payload hash changes, and never on a refused value", () => {
    const applied = new AppliedRegistry();
    const state = new ConfigState(applied, silentLogger);
    state.apply({
      kind: "load",
      changes: [put("k", 1, { v: 1 })],
      changeSetId: "initial",
      complete: true,
    });
    const p = probe("k", state);
    notify(state.apply({ kind: "set", changes: [put("k", 2, { v: 1 })], changeSetId: "" }));
    expect(p.swaps).toHaveLength(0);
    expect(applied.get("k")?.revision).toBe(2);
    const refused = state.apply({
      kind: "set",
      changes: [put("k", 3, { v: "no" })],
      changeSetId: "",
    });
    expect(refused.rejections).toMatchObject([{ key: "k", revision: 3, valuePath: "/v" }]);
    expect(applied.get("k")).toMatchObject({ revision: 2, rejectedRevision: 3 });
    notify(state.apply({ kind: "set", changes: [put("k", 4, { v: 2 })], changeSetId: "" }));
    expect(p.swaps).toEqual([[{ v: 1 }, { v: 2 }, 4]]);
  });

  it("refuses every key of a change set when one fails, and reports only that one", () => {
    const applied = new AppliedRegistry();
    const state = new ConfigState(applied, silentLogger);
    state.apply({
      kind: "load",
      changes: [put("a", 1, { v: 1 }), put("b", 2, { v: 1 }), put("c", 3, { v: 1 })],
      changeSetId: "initial",
      complete: true,
    });
    const a = probe("a", state);
    probe("b", state);
    // c has no handle: kept raw, but still held back with the set.
    const out = state.apply({
      kind: "set",
      changes: [
        put("a", 4, { v: 2 }, "s", 3),
        put("b", 5, { v: "x" }, "s", 3),
        put("c", 6, { v: 2 }, "s", 3),
      ],
      changeSetId: "s",
    });
    expect(out.notifications).toHaveLength(0);
    expect(out.rejections.map((r) => r.key)).toEqual(["b"]);
    expect(out.accepted).toEqual({});
    expect(applied.get("a")).toMatchObject({ revision: 1, rejectedRevision: 4 });
    expect(a.view.value).toEqual({ v: 1 });
    expect(state.attach("c", S).record.slot.value).toEqual({ v: 1 });
  });

  it("keeps the value of a deleted key and marks it; a complete load deletes what it lacks", () => {
    const state = new ConfigState(new AppliedRegistry(), silentLogger);
    state.apply({
      kind: "load",
      changes: [put("a", 1, { v: 1 }), put("b", 2, { v: 1 })],
      changeSetId: "initial",
      complete: true,
    });
    const a = state.attach("a", S);
    a.record.handles.add(probe("a", state).view);
    state.apply({
      kind: "load",
      changes: [put("b", 2, { v: 1 })],
      changeSetId: "initial",
      complete: true,
    });
    expect(a.record.slot.deleted).toBe(true);
    expect(a.record.slot.value).toEqual({ v: 1 });
    state.apply({
      kind: "set",
      changes: [{ ...put("b", 3, {}), op: "delete", data: undefined }],
      changeSetId: "",
    });
    // b had no handle: gone entirely.
    expect(state.attach("b", S).record.slot.value).toBeUndefined();
  });

  it("refuses entries that are not ConfigEntry JSON", () => {
    const state = new ConfigState(new AppliedRegistry(), silentLogger);
    probe("k", state);
    const garbage: RawChange = { ...put("k", 1, {}), data: new Uint8Array([0xff, 0xff, 0xff]) };
    expect(
      state.apply({ kind: "set", changes: [garbage], changeSetId: "" }).rejections[0]?.reason,
    ).toMatch(/not a ConfigEntry/);
    const yaml: RawChange = {
      ...put("k", 2, {}),
      data: undefined,
      entry: ConfigEntry.create({ payload: Buffer.from("v: 1"), contentType: "application/yaml" }),
    };
    expect(
      state.apply({ kind: "set", changes: [yaml], changeSetId: "" }).rejections[0]?.reason,
    ).toMatch(/unsupported content type/);
    const notJson: RawChange = {
      ...put("k", 3, {}),
      data: undefined,
      entry: ConfigEntry.create({ payload: Buffer.from("{") }),
    };
    expect(
      state.apply({ kind: "set", changes: [notJson], changeSetId: "" }).rejections[0]?.reason,
    ).toMatch(/payload is not JSON/);
  });

  it("reuses a STRONG candidate's parse at its commit, only for the same payload and schemas", () => {
    let parses = 0;
    const counted = z.object({ v: z.number() }).transform((x) => {
      parses++;
      return x;
    });
    const state = new ConfigState(new AppliedRegistry(), silentLogger);
    state.apply({
      kind: "load",
      changes: [put("k", 1, { v: 1 })],
      changeSetId: "",
      complete: true,
    });
    const att = state.attach("k", counted);
    const candidate = (value: unknown): ConfigEntry =>
      decodeMessage(ConfigEntry, configEntryBytes("k", value));
    parses = 0;
    expect(state.check(candidate({ v: 2 }))).toEqual({ ok: true });
    state.apply({ kind: "set", changes: [put("k", 2, { v: 2 })], changeSetId: "" });
    expect(parses).toBe(1);
    expect(att.record.slot.value).toEqual({ v: 2 });
    // A commit of other bytes than the candidate's is parsed; so is one after a new schema.
    state.check(candidate({ v: 3 }));
    state.apply({ kind: "set", changes: [put("k", 3, { v: 4 })], changeSetId: "" });
    expect(parses).toBe(3);
    expect(att.record.slot.value).toEqual({ v: 4 });
    state.check(candidate({ v: 5 }));
    const later = state.attach("k", S);
    state.apply({ kind: "set", changes: [put("k", 4, { v: 5 })], changeSetId: "" });
    expect(parses).toBe(5);
    expect(later.record.slot.value).toEqual({ v: 5 });
  });
});
