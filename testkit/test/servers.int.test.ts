import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KvWatchEntry } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { createConnection } from "node:net";
import Redis from "ioredis";
import { Client } from "pg";
import { loadStackEnv, pidAlive, startNats, startPostgres, startRedis } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase, RedisServer } from "@konorkestra/testkit";

describe("nats-server", () => {
  let nats: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect(nats.clientOptions());
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("accepts no anonymous client and no client that does not verify its TLS certificate", async () => {
    const { user, pass } = nats.clientOptions();
    // Credentials right, no CA: the server's certificate is not trusted.
    await expect(connect({ servers: nats.url, user, pass, timeout: 3000 })).rejects.toThrow(
      /certificate/i,
    );
    // TLS right, no credentials: refused (the auth callout has no responder here).
    await expect(
      connect({ servers: nats.url, tls: nats.clientOptions().tls, timeout: 3000 }),
    ).rejects.toThrow(/timeout|Authorization/i);
    expect(nc.info?.tls_required).toBe(true);
  });

  it("is at least 2.12 with JetStream on", async () => {
    const varz = await nats.monitor<{ version: string; jetstream?: { config?: unknown } }>("varz");
    const [major, minor] = varz.version.split(".").map(Number);
    expect(major! > 2 || (major === 2 && minor! >= 12)).toBe(true);
    expect(varz.jetstream?.config).toBeDefined();
    expect(nc.info?.jetstream).toBe(true);
  });

  it("delivers the per-key TTL expiry marker to a KV watch", async () => {
    const kv = await new Kvm(nc).create("kon_nodes_ttl", { history: 1, markerTTL: 60_000 });
    const seen: KvWatchEntry[] = [];
    const watch = await kv.watch();
    const purged = (async () => {
      for await (const e of watch) {
        seen.push(e);
        if (e.operation === "PURGE") return e;
      }
      return undefined;
    })();

    const putAt = Date.now();
    await jetstream(nc).publish("$KV.kon_nodes_ttl.g1.n1", "beat", { ttl: "1s" });
    const marker = await purged;
    watch.stop();

    expect(seen.map((e) => [e.key, e.operation])).toEqual([
      ["g1.n1", "PUT"],
      ["g1.n1", "PURGE"],
    ]);
    // The server expires on its own clock, checked about once a second.
    expect(Date.now() - putAt).toBeGreaterThanOrEqual(1_000);
    const msg = await (
      await jetstreamManager(nc)
    ).streams.getMessage("KV_kon_nodes_ttl", { seq: marker!.revision });
    expect(msg?.header.get("Nats-Marker-Reason")).toBe("MaxAge");
    expect(await kv.get("g1.n1")).toMatchObject({ operation: "PURGE" });
  });

  it("restarts on the same port with its JetStream data", async () => {
    const kv = await new Kvm(nc).create("kon_restart");
    await kv.put("k", "v1");
    const before = nats.pid;
    await nc.close();
    await nats.restart();
    expect(nats.pid).not.toBe(before);
    expect(pidAlive(before)).toBe(false);
    nc = await connect(nats.clientOptions());
    expect((await (await new Kvm(nc).open("kon_restart")).get("k"))?.string()).toBe("v1");
  });
});

describe("PostgreSQL with TimescaleDB", () => {
  let db: PostgresDatabase;
  let client: Client;

  beforeAll(async () => {
    db = await startPostgres();
    client = new Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });

  it("has the TimescaleDB extension from the template", async () => {
    const { rows } = await client.query<{ extversion: string }>(
      "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'",
    );
    expect(rows[0]?.extversion).toBe(loadStackEnv().versions.timescaledb);
  });

  it("creates a hypertable and routes rows into chunks", async () => {
    await client.query(
      "CREATE TABLE beats (time timestamptz NOT NULL, node text NOT NULL, seq bigint)",
    );
    await client.query("SELECT create_hypertable('beats', by_range('time', INTERVAL '1 hour'))");
    await client.query(
      `INSERT INTO beats SELECT now() - make_interval(hours => g), 'n' || g, g FROM generate_series(0, 4) g`,
    );
    const { rows } = await client.query<{ n: string; chunks: string }>(
      `SELECT (SELECT count(*) FROM beats) AS n,
              (SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'beats') AS chunks`,
    );
    expect(rows[0]).toEqual({ n: "5", chunks: "5" });
  });

  it("gives each caller a database of its own", async () => {
    const other = await startPostgres();
    try {
      expect(other.database).not.toBe(db.database);
      const c = new Client({ connectionString: other.url });
      await c.connect();
      const { rows } = await c.query("SELECT to_regclass('beats') AS t");
      await c.end();
      expect(rows[0]).toEqual({ t: null });
    } finally {
      await other.stop();
    }
  });
});

describe("redis-server", () => {
  let redis: RedisServer;
  let client: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { lazyConnect: true });
    await client.connect();
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it("answers, at version 7 or later", async () => {
    expect(await client.ping()).toBe("PONG");
    const info = await client.info("server");
    const major = Number(/redis_version:(\d+)/.exec(info)?.[1]);
    expect(major).toBeGreaterThanOrEqual(7);
  });

  it("refuses a client without its password", async () => {
    // The protocol itself: a command without AUTH first gets -NOAUTH.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = createConnection(redis.port, redis.host, () => socket.write("GET node\r\n"));
      socket.once("data", (d) => {
        resolve(d.toString());
        socket.destroy();
      });
      socket.once("error", reject);
    });
    expect(answer).toMatch(/^-NOAUTH/);
  });

  it("expires a key with a millisecond TTL", async () => {
    await client.set("node", "up", "PX", 150);
    expect(await client.get("node")).toBe("up");
    await new Promise((r) => setTimeout(r, 300));
    expect(await client.get("node")).toBeNull();
  });
});

describe("nats-server with mutual TLS", () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNats({ tls: "mutual" });
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("accepts a client with a certificate of the local CA and refuses one without", async () => {
    const withCert = await connect(nats.clientOptions());
    expect(withCert.info?.tls_verify).toBe(true);
    await withCert.close();
    const { user, pass, tls } = nats.clientOptions();
    await expect(
      connect({ servers: nats.url, user, pass, tls: { caFile: tls!.caFile }, timeout: 3000 }),
    ).rejects.toThrow();
  });
});
