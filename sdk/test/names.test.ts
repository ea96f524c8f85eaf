import { InvalidNameError, KonError } from "../src";
import { assertConfigKey, assertGroupName, assertNodeId, wireNames } from "../src/internal";

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
