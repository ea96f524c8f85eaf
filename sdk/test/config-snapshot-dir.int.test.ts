import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { z } from "zod";
import { Konorkestra, silentLogger } from "../src";
import type { KonError } from "../src";
import { parseKonorkestraOptions } from "../src/options/konorkestra-options";
import { ensureConfigBucket, wireNames } from "../src/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { putConfig } from "./helpers/put-config";

const Flag = z.object({ n: z.number() });
const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);

describe("the last-known-good snapshot's directory (issue 10 item 5)", () => {
  let nats: NatsServer;
  let root: string;
  const kons: Konorkestra[] = [];

  async function openFlag(group: string, snapshotDir: string) {
    const k = await Konorkestra.connect({
      ...nats.clientOptions(),
      group,
      nodeId: "n",
      snapshotDir,
      logger: silentLogger,
    });
    kons.push(k);
    return { k, cfg: k.config("flag", Flag) };
  }

  beforeAll(async () => {
    nats = await startNats();
    const admin = await connect(nats.clientOptions());
    for (const g of ["d1", "d2", "d3", "d4"]) {
      await ensureConfigBucket(admin, wireNames(), g);
      await putConfig(admin, g, "flag", { n: 1 });
    }
    await admin.close();
    root = mkdtempSync(join(tmpdir(), "kon-snapdir-"));
  });
  afterAll(async () => {
    for (const k of kons) await k.close();
    await nats?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("defaults to the user's state dir, never a shared temp dir", () => {
    const base = { group: "g", nodeId: "n" };
    expect(parseKonorkestraOptions(base, { XDG_STATE_HOME: "/srv/state" }).snapshotDir).toBe(
      "/srv/state/konorkestra",
    );
    // The XDG spec ignores a relative XDG_STATE_HOME.
    expect(parseKonorkestraOptions(base, { XDG_STATE_HOME: "rel" }).snapshotDir).toBe(
      join(homedir(), ".local", "state", "konorkestra"),
    );
    expect(parseKonorkestraOptions(base, {}).snapshotDir).toBe(
      join(homedir(), ".local", "state", "konorkestra"),
    );
    expect(parseKonorkestraOptions(base, { KON_SNAPSHOT_DIR: "/x/y" }).snapshotDir).toBe("/x/y");
  });

  it("creates the directory 0700 and writes its files 0600", async () => {
    const dir = join(root, "fresh", "konorkestra");
    const { k, cfg } = await openFlag("d1", dir);
    expect((await cfg).value).toEqual({ n: 1 });
    await k.close();
    expect(mode(dir)).toBe("700");
    expect(mode(join(dir, "kon-d1.pb"))).toBe("600");
    expect(mode(join(dir, "kon-d1.pb.origin"))).toBe("600");
  });

  it("refuses a directory writable by group or others", async () => {
    const dir = join(root, "shared");
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const { cfg } = await openFlag("d2", dir);
    const err = (await cfg.catch((e: unknown) => e)) as KonError;
    expect(err.code).toBe("SNAPSHOT_DIR_UNSAFE");
    expect(err.message).toBe(
      `config snapshot location ${dir} is writable by group and others (mode 0777); make it private (chown to this user, chmod 700) or set KON_SNAPSHOT_DIR to one that is`,
    );
  });

  const asRoot = process.getuid?.() === 0 ? it : it.skip;
  asRoot("refuses a directory owned by another user, and a planted snapshot file", async () => {
    const dir = join(root, "theirs");
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 65534, 65534);
    const { cfg } = await openFlag("d3", dir);
    await expect(cfg).rejects.toMatchObject({
      code: "SNAPSHOT_DIR_UNSAFE",
      message: expect.stringMatching(
        /is owned by uid 65534, not by this process's uid 0/,
      ) as string,
    });

    // A private directory holding a snapshot file someone else owns.
    const mine = join(root, "mine");
    mkdirSync(mine, { mode: 0o700 });
    const planted = join(mine, "kon-d4.pb");
    writeFileSync(planted, "");
    chownSync(planted, 65534, 65534);
    const second = await openFlag("d4", mine);
    await expect(second.cfg).rejects.toMatchObject({
      code: "SNAPSHOT_DIR_UNSAFE",
      message: expect.stringMatching(new RegExp(`${planted} is owned by uid 65534`)) as string,
    });
  });
});
