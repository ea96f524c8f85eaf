import { startService1 } from "../src/service1/service1";
import type { RunningService } from "../src/service-main";
import { ConfigPlane, eventually, http } from "./helpers/config-plane";

const initial = `
greeting: hello
features: {}
rateLimit: { requestsPerSecond: 0.5, burst: 2 }
`;

describe("service1: feature flags and rate limit change live", () => {
  let plane: ConfigPlane;
  let svc: RunningService;

  beforeAll(async () => {
    plane = await ConfigPlane.start("sp1", { service1: initial });
    svc = await startService1(await plane.connect("service1-a"), 0);
  });
  afterAll(async () => {
    await svc?.close();
    await plane?.stop();
  });

  it("serves the initial config", async () => {
    expect((await http(svc.port, "/v1/hello")).body).toEqual({ message: "hello", features: [] });
    expect((await http(svc.port, "/v1/beta")).status).toBe(404);
    const limited = [];
    for (let i = 0; i < 3; i++)
      limited.push((await http(svc.port, "/v1/hello", { client: "c1" })).status);
    expect(limited).toEqual([200, 200, 429]);
  });

  it("turns flags on and lifts the rate limit when the file is edited", async () => {
    plane.write(
      "service1",
      `
greeting: hello
features: { shout: true, beta: true }
rateLimit: { requestsPerSecond: 1000, burst: 50 }
`,
    );
    await eventually(
      "shouting greeting",
      async () => (await http(svc.port, "/v1/hello")).body.message,
      (m) => m === "HELLO!",
    );
    expect((await http(svc.port, "/v1/beta")).body).toEqual({ beta: true });
    const statuses = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await http(svc.port, "/v1/hello", { client: "c2" })).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect((await http(svc.port, "/v1/features")).body.rateLimit).toEqual({
      requestsPerSecond: 1000,
      burst: 50,
    });
  });

  it("keeps running on the last good config when the file is invalid", async () => {
    plane.write("service1", "greeting: [unclosed\n");
    await new Promise((r) => setTimeout(r, 500));
    expect((await http(svc.port, "/v1/hello")).body.message).toBe("HELLO!");
  });
});
