import type { NetworkInterfaceInfo } from "node:os";
import { InvalidNameError, KonError, Konorkestra, silentLogger } from "../src";
import { firstMac } from "../src/identity";
import { resolveNodeId, toNodeIdToken } from "../src/internal";
import type { NetworkInterfaces } from "../src/identity";
import { parseKonorkestraOptions } from "../src/options/konorkestra-options";

const iface = (mac: string, internal = false): NetworkInterfaceInfo => ({
  address: "10.0.0.5",
  netmask: "255.255.255.0",
  family: "IPv4",
  mac,
  internal,
  cidr: "10.0.0.5/24",
});

const loopbackOnly: NetworkInterfaces = { lo: [iface("00:00:00:00:00:00", true)] };

describe("node identity", () => {
  it("takes an explicit id as is and validates it", async () => {
    await expect(resolveNodeId({ nodeId: "web-01", interfaces: loopbackOnly })).resolves.toEqual({
      nodeId: "web-01",
      source: "explicit",
    });
    await expect(resolveNodeId({ nodeId: "web.01" })).rejects.toThrow(InvalidNameError);
  });

  it("uses the first non-internal MAC address, as a subject token", async () => {
    const interfaces: NetworkInterfaces = {
      lo: [iface("00:00:00:00:00:00", true)],
      eth1: [iface("00:1A:2B:3C:4D:5F")],
      eth0: [iface("00:1a:2b:3c:4d:5e")],
    };
    expect(firstMac(interfaces)).toBe("00_1a_2b_3c_4d_5e");
    await expect(resolveNodeId({ interfaces })).resolves.toEqual({
      nodeId: "00_1a_2b_3c_4d_5e",
      source: "mac",
    });
  });

  it("prefers a physical NIC over virtual interfaces and made-up addresses", () => {
    // docker0 and br-… sort before eth0 but their MACs are invented by the container runtime.
    expect(
      firstMac({
        "br-4f2a": [iface("02:42:11:22:33:44")],
        docker0: [iface("02:42:aa:bb:cc:dd")],
        eth0: [iface("3c:52:82:01:02:03")],
      }),
    ).toBe("3c_52_82_01_02_03");
    // Inside a container the only interface is virtual-looking: it is still used.
    expect(firstMac({ eth0: [iface("02:42:ac:11:00:02")], lo: loopbackOnly.lo })).toBe(
      "02_42_ac_11_00_02",
    );
    expect(
      firstMac({ veth9: [iface("aa:00:00:00:00:01")], ens5: [iface("06:1f:00:00:00:09")] }),
    ).toBe("06_1f_00_00_00_09");
  });

  it("falls back to the host name, mapped onto a token, when no interface has a MAC", async () => {
    expect(firstMac(loopbackOnly)).toBeUndefined();
    expect(firstMac({})).toBeUndefined();
    await expect(
      resolveNodeId({ interfaces: loopbackOnly, hostname: "web-1.eu.example.com" }),
    ).resolves.toEqual({ nodeId: "web-1_eu_example_com", source: "hostname" });
  });

  it("appends the pid for several processes per host, never truncating it", async () => {
    await expect(
      resolveNodeId({ interfaces: { eth0: [iface("00:1a:2b:3c:4d:5e")] }, appendPid: true }),
    ).resolves.toEqual({ nodeId: `00_1a_2b_3c_4d_5e-${process.pid}`, source: "mac" });
    await expect(resolveNodeId({ nodeId: "web-01", appendPid: true, pid: 42 })).resolves.toEqual({
      nodeId: "web-01-42",
      source: "explicit",
    });
    const long = await resolveNodeId({
      interfaces: loopbackOnly,
      hostname: "h".repeat(300),
      appendPid: true,
      pid: 123456,
    });
    expect(long.nodeId).toHaveLength(128);
    expect(long.nodeId.endsWith("-123456")).toBe(true);
  });

  it("maps arbitrary strings onto node id tokens", () => {
    expect(toNodeIdToken("a.b c*>")).toBe("a_b_c__");
    expect(toNodeIdToken("x".repeat(200))).toHaveLength(128);
    expect(toNodeIdToken("abcdef", 3)).toBe("abc");
  });
});

describe("node id suffix (nodeIdSuffix, KON_NODE_ID_SUFFIX)", () => {
  const eth0 = { eth0: [iface("00:1a:2b:3c:4d:5e")] };

  it("is appended to every source, before the pid, and never truncated", async () => {
    await expect(resolveNodeId({ interfaces: eth0, suffix: "svc1" })).resolves.toEqual({
      nodeId: "00_1a_2b_3c_4d_5e-svc1",
      source: "mac",
    });
    await expect(
      resolveNodeId({ interfaces: loopbackOnly, hostname: "web.1", suffix: "svc1" }),
    ).resolves.toEqual({ nodeId: "web_1-svc1", source: "hostname" });
    await expect(
      resolveNodeId({ nodeId: "web-01", suffix: "svc1", appendPid: true, pid: 7 }),
    ).resolves.toEqual({ nodeId: "web-01-svc1-7", source: "explicit" });
    const long = await resolveNodeId({
      interfaces: loopbackOnly,
      hostname: "h".repeat(300),
      suffix: "s".repeat(64),
    });
    expect(long.nodeId).toHaveLength(128);
    expect(long.nodeId.endsWith(`-${"s".repeat(64)}`)).toBe(true);
  });

  it("refuses a suffix that is not 1-64 token characters, naming the option and why", async () => {
    for (const bad of ["a.b", "a b", "x".repeat(65), ""]) {
      const err = await resolveNodeId({ interfaces: eth0, suffix: bad }).catch((e: KonError) => e);
      expect(err).toBeInstanceOf(KonError);
      expect((err as KonError).code).toBe("INVALID_OPTIONS");
      expect((err as KonError).message).toMatch(
        /^invalid option nodeIdSuffix: ".*" \(given, or KON_NODE_ID_SUFFIX\): use 1-64 of \[A-Za-z0-9_=-\]/,
      );
    }
  });

  it("is read by the SDK's option reader from KON_NODE_ID_SUFFIX, and checked there", async () => {
    const opts = parseKonorkestraOptions({ group: "g1" }, { KON_NODE_ID_SUFFIX: "svc1" });
    expect(opts.nodeIdSuffix).toBe("svc1");
    expect(
      parseKonorkestraOptions({ group: "g1" }, { KON_NODE_ID_SUFFIX: "  " }).nodeIdSuffix,
    ).toBe(undefined);
    expect(() => parseKonorkestraOptions({ group: "g1" }, { KON_NODE_ID_SUFFIX: "svc.1" })).toThrow(
      'invalid option nodeIdSuffix: "svc.1" (given, or KON_NODE_ID_SUFFIX): use 1-64 of [A-Za-z0-9_=-]',
    );
    const kon = await Konorkestra.connect({
      group: "g1",
      nodeId: "web-01",
      nodeIdSuffix: "svc1",
      configSource: "file:/nonexistent",
      logger: silentLogger,
    });
    await kon.close();
    expect(kon.nodeId).toBe("web-01-svc1");
  });
});
