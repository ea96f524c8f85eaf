// A credential NATS admits but that has no rights on the group's subjects (here a system
// service's nkey, whose rights allow only its own inbox, on a connection that uses the group's
// inbox as a member does; a join key of another group is the same case: cli/test/
// foreign-join-key.int.test.ts). `connect` must reject with NATS_REFUSED, and a permission error
// met by the SDK's requests and subscriptions must be reported, never left as a rejection nobody
// handles (which ends a Node process).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { KonError, KonErrorCode, Konorkestra, silentLogger } from "../src";
import {
  checkGroupAccess,
  credentialOptions,
  ensureConfigBucket,
  groupInboxPrefix,
  isPermissionDenied,
  wireNames,
} from "../src/internal";
import { NatsConfigWatch } from "../src/config/nats-config-watch";
import { revisionFetcher } from "../src/config/scheduled-load";
import { recordingLogger } from "./helpers/wait-for";

const names = wireNames();
let nats: NatsServer;
let dir: string;
/** Connected with the analytics nkey, but with group alpha's inbox: every reply is refused. */
let denied: NatsConnection;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  nats = await startNats();
  dir = mkdtempSync(join(tmpdir(), "kon-denied-"));
  const root = await connect(nats.clientOptions());
  await ensureConfigBucket(root, names, "alpha");
  await root.close();
  const o = nats.serviceOptions("analytics");
  denied = await connect({
    servers: o.servers,
    inboxPrefix: groupInboxPrefix(names, "alpha"),
    ...credentialOptions(o),
  });
});

afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  await denied?.close();
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("checkGroupAccess: a missing right is NATS_REFUSED naming the group; a member's is ok", async () => {
  const err = await checkGroupAccess(denied, names, "alpha").catch((e: unknown) => e);
  expect(err).toBeInstanceOf(KonError);
  expect((err as KonError).code).toBe(KonErrorCode.NatsRefused);
  expect((err as KonError).message).toMatch(/not to group 'alpha'.*another group/);
  expect(isPermissionDenied((err as KonError).cause)).toBe(true);
  const root = await connect(nats.clientOptions());
  try {
    expect(await checkGroupAccess(root, names, "alpha")).toBe("ok");
    expect(await checkGroupAccess(root, names, "no-such-group")).toBe("no-bucket");
  } finally {
    await root.close();
  }
});

test("connect with a credential that has no rights on the group rejects with NATS_REFUSED", async () => {
  const o = nats.serviceOptions("analytics");
  const started = Date.now();
  const err = await Konorkestra.connect({
    servers: o.servers,
    nkeySeedFile: o.nkeySeedFile,
    tlsCa: o.tlsCa,
    group: "alpha",
    nodeId: "n1",
    snapshotDir: join(dir, "state"),
    connectTimeoutMs: 15_000,
    logger: silentLogger,
  }).then(
    async (k) => {
      await k.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KonError);
  expect((err as KonError).code).toBe(KonErrorCode.NatsRefused);
  expect((err as KonError).message).toMatch(/group 'alpha'/);
  expect(Date.now() - started).toBeLessThan(10_000);
});

test("permission errors in the config watch and the revision fetcher are reported, not unhandled", async () => {
  const log = recordingLogger();
  const fetch = revisionFetcher(denied, names.configBucket("alpha"));
  const watch = new NatsConfigWatch(
    denied,
    names.configBucket("alpha"),
    { loaded: () => undefined, live: () => undefined },
    log,
  );
  await watch.start();
  // Let every pending request fail and the watch's timer run; the fetcher is not used yet (as
  // when no scheduled value needs it), so nothing of it may be left failing unobserved.
  await new Promise((r) => setTimeout(r, 1500));
  await watch.stop();
  expect(unhandled.map(String)).toEqual([]);
  await expect(fetch(1)).rejects.toThrow(/Permissions Violation/);
  expect(log.lines.join("\n")).toMatch(/config watch on cfg_alpha: .*Permissions Violation/);
});
