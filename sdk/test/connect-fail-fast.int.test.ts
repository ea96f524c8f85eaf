import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { Konorkestra, silentLogger } from "../src";
import type { KonError } from "../src";
import { ensureConfigBucket, wireNames } from "../src/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { connect } from "@nats-io/transport-node";
import { putConfig } from "./helpers/put-config";
import { recordingLogger } from "./helpers/wait-for";

const Flag = z.object({ n: z.number() });

/** A loopback port nobody listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

async function connectError(p: Promise<unknown>): Promise<KonError> {
  const outcome = await p.then(
    (k) => ({ ok: true as const, k }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  if (outcome.ok) {
    await (outcome.k as Konorkestra).close();
    throw new Error("connect resolved; expected it to fail");
  }
  return outcome.err as KonError;
}

describe("Konorkestra.connect on a wrong address (issue 11 item 10)", () => {
  let nats: NatsServer;
  let snapshotDir: string;
  beforeAll(async () => {
    nats = await startNats();
    snapshotDir = mkdtempSync(join(tmpdir(), "kon-failfast-"));
  });
  afterAll(async () => {
    await nats?.stop();
    rmSync(snapshotDir, { recursive: true, force: true });
  });

  it("fails with NATS_UNREACHABLE naming where and why, and no credential", async () => {
    const port = await deadPort();
    const err = await connectError(
      Konorkestra.connect({
        servers: `nats://kon-user:s3cret-pass@127.0.0.1:${port}`,
        group: "ff1",
        nodeId: "n1",
        snapshotDir,
        connectTimeoutMs: 300,
        logger: silentLogger,
      }),
    );
    expect(err.code).toBe("NATS_UNREACHABLE");
    expect(err.message).toContain(`NATS at nats://***@127.0.0.1:${port}`);
    expect(err.message).toMatch(/within 300 ms: connection refused \(ECONNREFUSED\)/);
    expect(err.message).toMatch(/no snapshot of group ff1 from these servers/);
    expect(err.message).toMatch(/KON_OFFLINE_START=snapshot/);
    expect(err.message).not.toContain("s3cret");
  });

  it("does not run on a snapshot written while connected to other servers", async () => {
    // A successful start against the real server leaves a snapshot for group ff2.
    const admin = await connect(nats.clientOptions());
    await ensureConfigBucket(admin, wireNames(), "ff2");
    await putConfig(admin, "ff2", "flag", { n: 1 });
    await admin.close();
    const good = await Konorkestra.connect({
      ...nats.clientOptions(),
      group: "ff2",
      nodeId: "n2",
      snapshotDir,
      logger: silentLogger,
    });
    expect((await good.config("flag", Flag)).value).toEqual({ n: 1 });
    await good.close();

    const port = await deadPort();
    const err = await connectError(
      Konorkestra.connect({
        ...nats.clientOptions(),
        servers: `nats://127.0.0.1:${port}`,
        group: "ff2",
        nodeId: "n2",
        snapshotDir,
        connectTimeoutMs: 300,
        logger: silentLogger,
      }),
    );
    expect(err.code).toBe("NATS_UNREACHABLE");
    expect(err.message).toMatch(/was written while connected to other NATS servers/);

    // offlineStart fail refuses even the snapshot of the same servers while they are down.
    await nats.shutdown();
    try {
      const err2 = await connectError(
        Konorkestra.connect({
          ...nats.clientOptions(),
          group: "ff2",
          nodeId: "n2",
          snapshotDir,
          connectTimeoutMs: 200,
          offlineStart: "fail",
          logger: silentLogger,
        }),
      );
      expect(err2.message).toMatch(/Not starting offline \(offlineStart fail\)/);
      // The default (auto) starts on it: a restart during an outage after a successful start.
      const logger = recordingLogger();
      const k = await Konorkestra.connect({
        ...nats.clientOptions(),
        group: "ff2",
        nodeId: "n2",
        snapshotDir,
        connectTimeoutMs: 200,
        logger,
      });
      try {
        expect(k.online).toBe(false);
        const cfg = await k.config("flag", Flag, { readyTimeoutMs: 100 });
        expect(cfg.source).toBe("snapshot");
        expect(logger.lines.join("\n")).toMatch(/starting offline \(offlineStart auto\)/);
      } finally {
        await k.close();
      }
    } finally {
      await nats.restart();
    }
  });

  it("KON_OFFLINE_START=snapshot starts offline; a missing snapshot is named as missing", async () => {
    const port = await deadPort();
    process.env.KON_OFFLINE_START = "snapshot";
    let k: Konorkestra;
    try {
      k = await Konorkestra.connect({
        servers: `nats://127.0.0.1:${port}`,
        group: "ff3",
        nodeId: "n3",
        snapshotDir,
        connectTimeoutMs: 100,
        logger: silentLogger,
      });
    } finally {
      delete process.env.KON_OFFLINE_START;
    }
    try {
      expect(k.online).toBe(false);
      const err = await k.config("flag", Flag, { readyTimeoutMs: 100 }).catch((e: KonError) => e);
      expect(err).toMatchObject({ code: "CONFIG_UNAVAILABLE" });
      expect((err as KonError).message).toBe(
        `config flag: NATS unreachable, and there is no last-known-good snapshot of group ff3 on this host yet (none at ${join(snapshotDir, "kon-ff3.pb")})`,
      );
    } finally {
      await k.close();
    }
  });

  it("a refused credential fails at once, whatever offlineStart says", async () => {
    const err = await connectError(
      Konorkestra.connect({
        ...nats.clientOptions(),
        pass: "wrong-password-xyz",
        group: "ff4",
        nodeId: "n4",
        snapshotDir,
        connectTimeoutMs: 10_000,
        offlineStart: "snapshot",
        logger: silentLogger,
      }),
    );
    // Refused, not unreachable: a wrong credential is not an outage (issue 13).
    expect(err.code).toBe("NATS_REFUSED");
    expect(err.message).toMatch(
      /refused this process: Authorization Violation; check this process's credentials/,
    );
    expect(err.message).not.toContain("wrong-password-xyz");
  });

  it("names a bad offlineStart", async () => {
    await expect(
      Konorkestra.connect({ group: "g", nodeId: "n", offlineStart: "maybe" as never }),
    ).rejects.toThrow(/invalid option offlineStart: use auto, snapshot or fail/);
  });
});
