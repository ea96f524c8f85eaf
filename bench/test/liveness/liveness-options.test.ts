import { KonError } from "@konorkestra/sdk";
import { parseLivenessOptions, rowsFor } from "../../src/liveness/liveness-options";

describe("parseLivenessOptions", () => {
  it("has the issue's defaults", () => {
    const o = parseLivenessOptions([]);
    expect(o).toMatchObject({
      nodes: 10_000,
      stop: 100,
      ttlS: 3,
      backend: "all",
      baselines: true,
      rawNatsPublish: "core",
      warmupS: 6,
      missAfterS: 10,
      tailS: 15,
      maxSimLagMs: 500,
    });
    expect(rowsFor(o)).toEqual(["nats", "redis", "raw_nats", "raw_redis"]);
  });

  it("reads the issue's command line", () => {
    const o = parseLivenessOptions("--nodes 1000 --stop 50 --ttl 3 --backend redis".split(" "));
    expect(o).toMatchObject({ nodes: 1000, stop: 50, ttlS: 3, backend: "redis" });
    expect(rowsFor(o)).toEqual(["redis", "raw_redis"]);
    expect(rowsFor({ ...o, baselines: false })).toEqual(["redis"]);
    expect(parseLivenessOptions(["--ttl", "5"]).warmupS).toBe(10);
  });

  it("takes an explicit row list", () => {
    const o = parseLivenessOptions(["--rows", "raw_redis,nats"]);
    expect(rowsFor(o)).toEqual(["raw_redis", "nats"]);
  });

  it.each([
    [["--nodes", "abc"], /--nodes/],
    [["--stop", "100", "--nodes", "100"], /--stop: must be below --nodes/],
    [["--backend", "etcd"], /--backend/],
    [["--rows", "nats,bogus"], /--rows/],
    [["--tail-s", "5"], /--tail-s: must be at least --miss-after-s/],
    [["--ttl", "0"], /--ttl/],
    [["--bogus"], /bogus/],
  ])("refuses %j, naming the flag", (args, message) => {
    let err: unknown;
    try {
      parseLivenessOptions(args);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KonError);
    expect((err as KonError).code).toBe("INVALID_OPTIONS");
    expect((err as KonError).message).toMatch(message);
  });
});
