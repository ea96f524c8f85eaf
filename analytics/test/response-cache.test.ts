import { ResponseCache } from "../src/http/response-cache";

describe("ResponseCache", () => {
  test("serves a body until it is older than the TTL; concurrent misses share one build", async () => {
    let builds = 0;
    const build = async (): Promise<string> => {
      builds++;
      await new Promise((r) => setTimeout(r, 20));
      return `v${builds}`;
    };
    // A TTL long enough that a busy machine cannot outlast it between two consecutive lines.
    const cache = new ResponseCache(2000);
    const [a, b] = await Promise.all([cache.get("k", build), cache.get("k", build)]);
    expect(builds).toBe(1);
    expect(a.body.toString()).toBe("v1");
    expect(b).toBe(a);
    expect((await cache.get("k", build)).body.toString()).toBe("v1");
    expect((await cache.get("other", build)).body.toString()).toBe("v2");
    await new Promise((r) => setTimeout(r, 2100));
    expect((await cache.get("k", build)).body.toString()).toBe("v3");
  });

  test("fresh bypasses the cache and replaces the entry; a failed build is not kept", async () => {
    let n = 0;
    const cache = new ResponseCache(10_000);
    await cache.get("k", () => Promise.resolve(`v${++n}`));
    const fresh = await cache.get("k", () => Promise.resolve(`v${++n}`), true);
    expect(fresh.body.toString()).toBe("v2");
    expect((await cache.get("k", () => Promise.resolve(`v${++n}`))).body.toString()).toBe("v2");
    await expect(cache.get("bad", () => Promise.reject(new Error("db down")))).rejects.toThrow(
      "db down",
    );
    expect((await cache.get("bad", () => Promise.resolve("ok"))).body.toString()).toBe("ok");
  });

  test("past half its TTL a body is still served, and the next one is built meanwhile", async () => {
    let n = 0;
    const cache = new ResponseCache(100);
    const build = (): Promise<string> => Promise.resolve(`v${++n}`);
    const first = await cache.get("k", build);
    await new Promise((r) => setTimeout(r, 60));
    const aging = await cache.get("k", build);
    expect(aging).toBe(first); // answered at once, from memory
    await new Promise((r) => setTimeout(r, 10));
    expect((await cache.get("k", build)).body.toString()).toBe("v2");
    expect(n).toBe(2);
  });

  test("a TTL of 0 builds every time", async () => {
    let n = 0;
    const cache = new ResponseCache(0);
    await cache.get("k", () => Promise.resolve(`v${++n}`));
    await cache.get("k", () => Promise.resolve(`v${++n}`));
    expect(n).toBe(2);
  });

  test("concurrent fresh requests share builds that started after they arrived", async () => {
    let builds = 0;
    let running = 0;
    let most = 0;
    const build = async (): Promise<string> => {
      builds++;
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 30));
      running--;
      return `v${builds}`;
    };
    const cache = new ResponseCache(10_000);
    const first = cache.get("k", build, true);
    await new Promise((r) => setTimeout(r, 10)); // a build is under way, started before the crowd
    const arrivals: number[] = [];
    const crowd = Array.from({ length: 50 }, () => {
      arrivals.push(Date.now());
      return cache.get("k", build, true);
    });
    const bodies = await Promise.all(crowd);
    await first;
    // One build for the first request, one shared by all 50 (the one under way began too early).
    expect(builds).toBe(2);
    expect(most).toBe(1);
    bodies.forEach((b, i) => expect(b.atMs).toBeGreaterThanOrEqual(arrivals[i]!));
    expect(new Set(bodies.map((b) => b.body.toString()))).toEqual(new Set(["v2"]));
  });

  test("with the cache off, concurrent requests still share a build that started after them", async () => {
    let n = 0;
    const cache = new ResponseCache(0);
    const build = async (): Promise<string> => {
      await new Promise((r) => setTimeout(r, 10));
      return `v${++n}`;
    };
    await Promise.all(Array.from({ length: 20 }, () => cache.get("k", build)));
    // One build; a second only when the loop crossed a millisecond after the first began (a
    // request may not use a build that started before it arrived).
    expect(n).toBeLessThanOrEqual(2);
  });
});
