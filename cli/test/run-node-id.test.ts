import { Konorkestra, silentLogger } from "@konorkestra/sdk";
import { resolveNodeId } from "@konorkestra/sdk/internal";
import { runNodeIdSuffix } from "../src/run/run-session";
import type { RunSpec } from "../src/run/run-session";

// `kon run` and `kon agent` on one host must not beat as one node: the agent's death would hide
// behind the runner's beats (found by the hostile pass: both derived the host's MAC address).
// kon run asks the SDK for a node id suffix (its key); the SDK appends it to any id source.
const spec = (key: string, node?: string): RunSpec => ({
  member: { node },
  key,
  renderFile: "/tmp/unused.json",
  onChange: "restart",
  command: "true",
  args: [],
  heartbeatIntervalMs: 1000,
  graceMs: 1000,
});

/** The node id the SDK gives a `kon run` of `key` (a file source: no NATS needed). */
async function runNodeId(key: string, env: NodeJS.ProcessEnv = {}, node?: string): Promise<string> {
  const suffix = runNodeIdSuffix(spec(key, node), env);
  const kon = await Konorkestra.connect({
    group: "g1",
    configSource: "file:/nonexistent",
    ...(node !== undefined ? { nodeId: node } : {}),
    ...(suffix !== undefined ? { nodeIdSuffix: suffix } : {}),
    logger: silentLogger,
  });
  await kon.close();
  return kon.nodeId;
}

describe("kon run's node id", () => {
  it("is the host's derived id plus the key, stable across runs", async () => {
    const host = (await resolveNodeId({})).nodeId;
    const id = await runNodeId("service1");
    expect(id).toBe(`${host}-service1`);
    expect(await runNodeId("service1")).toBe(id);
    expect(await runNodeId("service2")).not.toBe(id);
  });

  it("suffixes KON_NODE_ID too; --node is taken as it is", async () => {
    process.env.KON_NODE_ID = "web-1";
    try {
      expect(await runNodeId("service1")).toBe("web-1-service1");
    } finally {
      delete process.env.KON_NODE_ID;
    }
    expect(runNodeIdSuffix(spec("service1", "n1"), {})).toBeUndefined();
    expect(await runNodeId("service1", {}, "n1")).toBe("n1");
  });

  it("leaves the suffix to KON_NODE_ID_SUFFIX when the operator sets one", () => {
    expect(runNodeIdSuffix(spec("service1"), { KON_NODE_ID_SUFFIX: "blue" })).toBeUndefined();
    expect(runNodeIdSuffix(spec("service1"), { KON_NODE_ID_SUFFIX: " " })).toBe("service1");
  });

  it("maps a dotted or long key onto a valid suffix", async () => {
    expect(runNodeIdSuffix(spec("service1.db"), {})).toBe("service1_db");
    const id = await runNodeId("k".repeat(200));
    expect(id.length).toBeLessThanOrEqual(128);
    expect(id).toMatch(/-k{64}$/);
  });
});
