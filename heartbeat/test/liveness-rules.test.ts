import {
  monitorConsumerName,
  monitorLeaseSubject,
  natsTtl,
  nodeEventId,
  nodeEventSubject,
  nodeRecordSubject,
  parseMonitorLeaseSubject,
  parseNodeEventId,
  parseNodeRecordSubject,
  wireNames,
} from "@konorkestra/sdk/internal";

// The names the monitor writes, as other processes (benchmarks, analytics, other monitors) read them.
describe("liveness rules of @konorkestra/sdk/internal", () => {
  const names = wireNames("kon");

  it("round-trips kon_nodes record and kon_monitors lease subjects", () => {
    expect(nodeRecordSubject(names, "g1", "n-1")).toBe("$KV.kon_nodes.g1.n-1");
    expect(parseNodeRecordSubject(names, "$KV.kon_nodes.g1.n-1")).toEqual({
      group: "g1",
      node: "n-1",
    });
    expect(parseNodeRecordSubject(names, "$KV.kon_nodes.G1.n")).toBeUndefined();
    expect(parseNodeRecordSubject(names, "$KV.kon_nodes.g1.n.x")).toBeUndefined();
    expect(parseNodeRecordSubject(names, "$KV.kon_monitors.m1")).toBeUndefined();
    expect(monitorLeaseSubject(names, "m_1")).toBe("$KV.kon_monitors.m_1");
    expect(parseMonitorLeaseSubject(names, "$KV.kon_monitors.m_1")).toBe("m_1");
    expect(parseMonitorLeaseSubject(names, "$KV.kon_monitors.a.b")).toBeUndefined();
    expect(() => monitorLeaseSubject(names, "has space")).toThrow(/invalid monitor id/);
  });

  it("names node events and their ids, and parses the ids back", () => {
    expect(nodeEventSubject(names, "g1", "down")).toBe("kon.evt.g1.node.down");
    expect(nodeEventId("g1", "n1", "down", "42")).toBe("g1.n1.down.42");
    expect(parseNodeEventId("g1.n1.up.iabc.def")).toEqual({
      group: "g1",
      node: "n1",
      word: "up",
      ref: "iabc.def",
    });
    expect(parseNodeEventId("g1.n1.sideways.1")).toBeUndefined();
    expect(parseNodeEventId("g1.n1.down.")).toBeUndefined();
    expect(parseNodeEventId("g1.n1.down")).toBeUndefined();
  });

  it("writes TTLs in whole seconds, at least one, and names the monitor's consumer", () => {
    expect(natsTtl(3000)).toBe("3s");
    expect(natsTtl(2001)).toBe("3s");
    expect(natsTtl(10)).toBe("1s");
    expect(monitorConsumerName(names, "m1")).toBe("kon_monitor_m1");
  });
});
