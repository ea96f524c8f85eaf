import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

// No Docker engine runs on the development machines, so docker-compose.yml is checked here for
// what `make up` relies on: it must not rot unseen.
interface Service {
  image: string;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test: string[] };
  restart?: string;
}

const compose = parse(readFileSync(join(__dirname, "../../docker-compose.yml"), "utf8"), {
  merge: true,
}) as {
  services: Record<string, Service>;
};

function containerPorts(s: Service): number[] {
  return (s.ports ?? []).map((p) => Number(p.split(":").at(-1)));
}

describe("docker-compose.yml", () => {
  it("defines the three servers", () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      expect.arrayContaining(["nats", "postgres", "redis"]),
    );
  });

  it("runs NATS >= 2.12 with JetStream and monitoring", () => {
    const nats = compose.services.nats!;
    const m = /^nats:(\d+)\.(\d+)/.exec(nats.image);
    expect(m).not.toBeNull();
    const [major, minor] = [Number(m![1]), Number(m![2])];
    expect(major > 2 || (major === 2 && minor >= 12)).toBe(true);
    expect(nats.command).toContain("-js");
    expect(containerPorts(nats)).toEqual(expect.arrayContaining([4222, 8222]));
  });

  it("mounts the TLS and accounts configuration make up writes, so NATS is never open", () => {
    const nats = compose.services.nats!;
    expect(nats.command).toEqual(expect.arrayContaining(["-c", "/etc/kon/nats.conf"]));
    expect(nats.volumes).toEqual(
      expect.arrayContaining([
        "./.stack/compose/nats.conf:/etc/kon/nats.conf:ro",
        "./.stack/run/nats-accounts.conf:/etc/kon/nats-accounts.conf:ro",
        "./.stack/tls/server.pem:/etc/kon/tls/server.pem:ro",
        "./.stack/tls/server.key:/etc/kon/tls/server.key:ro",
        "./.stack/tls/ca.pem:/etc/kon/tls/ca.pem:ro",
      ]),
    );
    // The server gets its own certificate and the CA's, never the CA's signing key.
    expect(nats.volumes!.some((v) => v.includes("ca.key") || v.startsWith("./.stack/tls:"))).toBe(
      false,
    );
    const stack = readFileSync(join(__dirname, "../../scripts/stack.sh"), "utf8");
    expect(stack).toMatch(/up\) ensure_trust; compose_nats_conf; compose up/);
    expect(stack).toContain('include "nats-accounts.conf"');
  });

  it("gives PostgreSQL and Redis their passwords from .stack/secrets, never a default", () => {
    expect(compose.services.postgres!.environment?.POSTGRES_PASSWORD).toBeUndefined();
    expect(compose.services.postgres!.environment?.POSTGRES_PASSWORD_FILE).toBe(
      "/run/secrets/pg_pw",
    );
    expect(compose.services.redis!.command?.join(" ")).toMatch(/--requirepass/);
  });

  it("runs PostgreSQL from a TimescaleDB image with telemetry off", () => {
    const pg = compose.services.postgres!;
    expect(pg.image).toMatch(/^timescale\/timescaledb(-ha)?:/);
    expect(pg.environment?.TIMESCALEDB_TELEMETRY).toBe("off");
    expect(containerPorts(pg)).toEqual([5432]);
  });

  it("runs Redis 7 or later", () => {
    const redis = compose.services.redis!;
    expect(Number(/^redis:(\d+)/.exec(redis.image)?.[1])).toBeGreaterThanOrEqual(7);
    expect(containerPorts(redis)).toEqual([6379]);
  });

  it("publishes every port on loopback only, with a health check per long-running service", () => {
    const longRunning = Object.entries(compose.services).filter(([, s]) => s.restart !== "no");
    // The one-shot init service is the only one without a health check.
    expect(
      Object.keys(compose.services).filter((n) => !longRunning.some(([m]) => m === n)),
    ).toEqual(["init"]);
    for (const [name, s] of Object.entries(compose.services)) {
      for (const p of s.ports ?? []) expect(`${name} ${p}`).toMatch(/ 127\.0\.0\.1:/);
    }
    for (const [name, s] of longRunning) {
      expect(`${name}: ${s.healthcheck?.test.length ?? 0} health check words`).not.toMatch(/: 0 /);
    }
  });
});
