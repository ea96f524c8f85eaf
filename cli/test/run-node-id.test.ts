import { resolveNodeId } from "@konorkestra/sdk/internal";
import { runNodeId } from "../src/run/run-session";

// `kon run` and `kon agent` on one host must not beat as one node: the agent's death would hide
// behind the runner's beats (found by the hostile pass: both derived the host's MAC address).
describe("kon run's node id", () => {
  it("is the host's derived id plus the key, stable across runs", async () => {
    const host = (await resolveNodeId({})).nodeId;
    const id = await runNodeId("service1", {});
    expect(id).toBe(`${host}-service1`);
    expect(id).not.toBe(host);
    expect(await runNodeId("service1", {})).toBe(id);
    expect(await runNodeId("service2", {})).not.toBe(id);
  });

  it("leaves an explicit or AWS-derived id to the SDK", async () => {
    expect(await runNodeId("service1", { KON_NODE_ID: "n1" })).toBeUndefined();
    expect(await runNodeId("service1", { KON_NODE_ID_SOURCE: "aws" })).toBeUndefined();
  });

  it("stays a valid node id for a long key", async () => {
    const id = (await runNodeId("k".repeat(200), {}))!;
    expect(id.length).toBeLessThanOrEqual(128);
    expect(id).toMatch(/-k+$/);
  });
});
