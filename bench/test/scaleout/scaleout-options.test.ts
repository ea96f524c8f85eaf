import { KonError } from "@konorkestra/sdk";
import { parseScaleoutOptions } from "../../src/scaleout/scaleout-options";

describe("bench:scaleout flags", () => {
  it("defaults to a 3-server cluster, 2 monitors, 2 analytics and 5,000 nodes", () => {
    expect(parseScaleoutOptions([])).toMatchObject({
      nodes: 5000,
      stop: 50,
      servers: 3,
      monitors: 2,
      analytics: 2,
      ttlS: 3,
      warmupS: 6,
      tailS: 10,
      missAfterS: 10,
    });
  });

  it("refuses a tail shorter than the miss window, and a stop count not below the fleet", () => {
    expect(() => parseScaleoutOptions(["--tail-s", "2"])).toThrow(/--tail-s must be at least/);
    expect(() => parseScaleoutOptions(["--nodes", "10", "--stop", "10"])).toThrow(KonError);
    expect(() => parseScaleoutOptions(["--servers", "5"])).toThrow(/--servers/);
  });
});
