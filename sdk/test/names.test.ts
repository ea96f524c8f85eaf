import { ConfigEvent, NodeEvent } from "@konorkestra/proto";
import { InvalidNameError, KonError } from "../src";
import {
  assertConfigKey,
  assertGroupName,
  assertNodeId,
  wireNames,
  CONFIG_EVENT_WORDS,
  NODE_EVENT_WORDS,
  configEventKind,
  configEventWord,
  isEventKind,
  nodeEventKind,
  nodeEventWord,
  nodeKey,
  parseNodeKey,
  parseSchemaRecord,
  schemaRecordKey,
} from "../src/internal";

describe("names on the wire", () => {
  it("accepts good group names and rejects bad ones with the reason", () => {
    expect(assertGroupName("payments-eu1")).toBe("payments-eu1");
    for (const bad of ["", "-x", "Upper", "a.b", "a b", "x".repeat(64)]) {
      expect(() => assertGroupName(bad)).toThrow(InvalidNameError);
    }
    expect(() => assertGroupName("a.b")).toThrow(/invalid group "a.b": use 1-63 lower-case/);
  });

  it("takes node ids as single subject tokens", () => {
    expect(assertNodeId("i-0abc123")).toBe("i-0abc123");
    expect(assertNodeId("02_42_ac_11_00_02")).toBe("02_42_ac_11_00_02");
    for (const bad of ["", "a.b", "a*", ">", "a b", "x".repeat(129)]) {
      expect(() => assertNodeId(bad)).toThrow(InvalidNameError);
    }
  });

  it("takes config keys as dotted tokens and says which segment is wrong", () => {
    expect(assertConfigKey("service1.db")).toBe("service1.db");
    expect(() => assertConfigKey("a..b")).toThrow(/empty segment/);
    expect(() => assertConfigKey(".a")).toThrow(/empty segment/);
    expect(() => assertConfigKey("a.b c")).toThrow(/segment "b c"/);
  });

  it("derives every name from the prefix", () => {
    const kon = wireNames();
    expect(kon.configBucket("g1")).toBe("cfg_g1");
    expect(kon.nodesBucket).toBe("kon_nodes");
    expect(kon.groupsBucket).toBe("kon_groups");
    expect(kon.heartbeatSubject("g1", "n1")).toBe("kon.hb.g1.n1");
    expect(kon.heartbeatStream).toBe("KON_HB");
    expect(kon.eventSubject("g1", "node.down")).toBe("kon.evt.g1.node.down");
    expect(kon.eventStream).toBe("KON_EVENTS");
    const staging = wireNames("stg");
    expect(staging.configBucket("g1")).toBe("stg_cfg_g1");
    expect(staging.heartbeatSubject("g1", "n1")).toBe("stg.hb.g1.n1");
    expect(() => wireNames("Bad.Prefix")).toThrow(KonError);
    expect(() => kon.heartbeatSubject("g1", "n.1")).toThrow(/invalid node id/);
  });

  it("serialises errors with their stable code", () => {
    const err = new InvalidNameError("node id", "a.b", "no dots");
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      code: "INVALID_NAME",
      message: 'invalid node id "a.b": no dots',
    });
    expect(err.name).toBe("InvalidNameError");
  });
});

describe("parsers of names on the wire", () => {
  const kon = wireNames();

  it("reads group and node back from every heartbeat subject it builds", () => {
    for (const [g, n] of [
      ["g1", "n1"],
      ["payments-eu1", "i-0abc=_-9"],
      ["0", "x".repeat(128)],
    ] as const) {
      expect(kon.parseHeartbeatSubject(kon.heartbeatSubject(g, n))).toEqual({ group: g, node: n });
      expect(kon.checkHeartbeatSubject(kon.heartbeatSubject(g, n))).toEqual({
        ok: true,
        group: g,
        node: n,
      });
    }
  });

  it("refuses heartbeat subjects that are not <prefix>.hb.<group>.<node>, saying which part", () => {
    const cases: [string, "subject" | "group" | "node"][] = [
      ["kon.hb.g1", "subject"],
      ["kon.hb.g1.n1.extra", "subject"],
      ["kon.hb..n1", "subject"],
      ["other.hb.g1.n1", "subject"],
      ["kon.evt.g1.n1", "subject"],
      ["kon.hb.Upper.n1", "group"],
      ["kon.hb.g1.", "node"],
      ["kon.hb.g1.n*", "node"],
      [`kon.hb.g1.${"x".repeat(129)}`, "node"],
    ];
    for (const [subject, part] of cases) {
      expect(kon.parseHeartbeatSubject(subject)).toBeUndefined();
      const check = kon.checkHeartbeatSubject(subject);
      expect(check).toMatchObject({ ok: false, part });
    }
    expect(wireNames("stg").parseHeartbeatSubject("kon.hb.g1.n1")).toBeUndefined();
  });

  it("reads group and kind back from event subjects, and only known kinds", () => {
    expect(kon.parseEventSubject(kon.eventSubject("g1", "node.down"))).toEqual({
      group: "g1",
      kind: "node.down",
    });
    expect(kon.parseEventSubject("kon.evt.g1.config.prepare_failed")).toEqual({
      group: "g1",
      kind: "config.prepare_failed",
    });
    for (const bad of [
      "kon.evt.g1.node.sideways",
      "kon.evt.g1.node",
      "kon.evt.G1.node.up",
      "kon.evt.g1",
      "kon.hb.g1.node.up",
    ]) {
      expect(kon.parseEventSubject(bad)).toBeUndefined();
    }
    expect(() => kon.eventSubject("g1", "node.sideways" as never)).toThrow(/unknown event kind/);
  });

  it("builds the filters every consumer subscribes with", () => {
    expect(kon.heartbeatFilter).toBe("kon.hb.>");
    expect(kon.eventFilter).toBe("kon.evt.>");
    expect(kon.nodeEventFilter).toBe("kon.evt.*.node.>");
    expect(kon.configEventFilter).toBe("kon.evt.*.config.>");
    expect(kon.groupEventFilter("g1", "node")).toBe("kon.evt.g1.node.*");
    expect(kon.monitorsBucket).toBe("kon_monitors");
    expect(kon.schemasBucket).toBe("kon_schemas");
  });

  it("splits liveness keys <group>.<node> and refuses invalid ones", () => {
    expect(nodeKey("g1", "n1")).toBe("g1.n1");
    expect(parseNodeKey("g1.n1")).toEqual({ group: "g1", node: "n1" });
    for (const bad of ["g1", ".n1", "g1.", "g1.n.1", "G.n1"]) {
      expect(parseNodeKey(bad)).toBeUndefined();
    }
  });

  it("maps every proto event kind to its word and back", () => {
    for (const word of NODE_EVENT_WORDS) {
      expect(nodeEventWord(nodeEventKind(word))).toBe(word);
      expect(isEventKind(`node.${word}`)).toBe(true);
    }
    for (const word of CONFIG_EVENT_WORDS) {
      expect(configEventWord(configEventKind(word))).toBe(word);
      expect(isEventKind(`config.${word}`)).toBe(true);
    }
    expect(nodeEventWord(NodeEvent.Kind.KIND_UNSPECIFIED)).toBeUndefined();
    expect(configEventWord(42 as ConfigEvent.Kind)).toBeUndefined();
    // Every kind the proto defines has a word, so no event is published without a subject.
    const protoNodeKinds = Object.values(NodeEvent.Kind).filter(
      (v): v is NodeEvent.Kind => typeof v === "number" && v !== NodeEvent.Kind.KIND_UNSPECIFIED,
    );
    expect(protoNodeKinds.map((k) => nodeEventWord(k))).not.toContain(undefined);
    const protoConfigKinds = Object.values(ConfigEvent.Kind).filter(
      (v): v is ConfigEvent.Kind =>
        typeof v === "number" && v !== ConfigEvent.Kind.KIND_UNSPECIFIED,
    );
    expect(protoConfigKinds.map((k) => configEventWord(k))).not.toContain(undefined);
  });

  it("keys and reads kon_schemas records", () => {
    expect(schemaRecordKey("g1", "service1.db")).toBe("g1.service1.db");
    expect(() => schemaRecordKey("g1", "a..b")).toThrow(/empty segment/);
    expect(parseSchemaRecord('{"schema":{"type":"object"},"service":"s1"}')).toEqual({
      schema: { type: "object" },
      service: "s1",
      nodeId: "",
      registeredAtMs: 0,
    });
    expect(() => parseSchemaRecord('{"schema":[]}')).toThrow(/no "schema" object/);
    expect(() => parseSchemaRecord("not json")).toThrow(SyntaxError);
  });
});
