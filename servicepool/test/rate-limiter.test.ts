import { RateLimiter } from "../src/service1/rate-limiter";

describe("RateLimiter", () => {
  let now = 0;
  const clock = (): number => now;

  beforeEach(() => {
    now = 0;
  });

  it("allows a burst, then one request per refill interval", () => {
    const rl = new RateLimiter({ requestsPerSecond: 2, burst: 3 }, clock);
    expect([rl.take("a"), rl.take("a"), rl.take("a")]).toEqual([0, 0, 0]);
    expect(rl.take("a")).toBe(500);
    now = 500;
    expect(rl.take("a")).toBe(0);
    expect(rl.take("b")).toBe(0); // clients are independent
  });

  it("applies a lower limit at once and does not refill on a raise", () => {
    const rl = new RateLimiter({ requestsPerSecond: 1, burst: 10 }, clock);
    rl.take("a");
    rl.configure({ requestsPerSecond: 1, burst: 2 });
    expect([rl.take("a"), rl.take("a")]).toEqual([0, 0]);
    expect(rl.take("a")).toBeGreaterThan(0);
    rl.configure({ requestsPerSecond: 1, burst: 100 });
    expect(rl.take("a")).toBeGreaterThan(0);
    expect(rl.current).toEqual({ requestsPerSecond: 1, burst: 100 });
  });
});
