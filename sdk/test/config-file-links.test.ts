// H5 (session 8): a symbolic link in a group folder is followed only within that group's own
// folder. A link into another group's folder (a file or a folder) is refused like a link out of
// the config root, so one group's members never receive another group's configs.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readGroupFiles } from "../src/config-files/group-files";
import { scanGroup, scanTree } from "../src/config-files/tree-scanner";

describe("symbolic links stay within their group's folder", () => {
  let root: string;

  beforeAll(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), "kon-links-")));
    mkdirSync(join(root, "demo", "sub"), { recursive: true });
    mkdirSync(join(root, "shop", "nested"), { recursive: true });
    writeFileSync(join(root, "demo", "real.json"), '{"v":"demo"}');
    writeFileSync(join(root, "demo", "sub", "a.json"), '{"v":"demo sub"}');
    writeFileSync(join(root, "shop", "checkout.json"), '{"secret":"shop"}');
    writeFileSync(join(root, "shop", "nested", "b.json"), '{"secret":"shop nested"}');
    writeFileSync(join(root, "common.json"), '{"v":"root file"}');
    // Into another group: a file link, a folder link, and one through an own-folder link.
    symlinkSync("../shop/checkout.json", join(root, "demo", "cross.json"));
    symlinkSync("../shop", join(root, "demo", "shopdir"));
    symlinkSync("../../shop/nested/b.json", join(root, "demo", "sub", "deep.json"));
    // Under the root but not in a group's folder.
    symlinkSync("../common.json", join(root, "demo", "common.json"));
    // Within the own folder: followed.
    symlinkSync("real.json", join(root, "demo", "alias.json"));
    symlinkSync("sub", join(root, "demo", "sublink"));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("refuses links into another group's folder with [io], follows links within its own", async () => {
    const scan = (await scanGroup(root, "demo"))!;
    const readings = await readGroupFiles(scan.files, 1024 * 1024);
    const byPath = new Map(readings.map((r) => [r.file.sourcePath, r]));
    const published = readings
      .filter((r) => r.kind === "parsed")
      .map((r) => (r.kind === "parsed" ? r.key : ""))
      .sort();
    expect(published).toEqual(["alias", "real", "sub.a", "sublink.a"]);
    for (const [path, key] of [
      ["demo/cross.json", "cross"],
      ["demo/sub/deep.json", "sub.deep"],
      ["demo/common.json", "common"],
      ["demo/shopdir/", ""],
    ] as const) {
      const r = byPath.get(path);
      expect(r?.kind).toBe("refused");
      if (r?.kind !== "refused") continue;
      expect(r.key).toBe(key);
      expect(r.problem.code).toBe("io");
      expect(r.problem.reason).toMatch(/symbolic link leads outside its group's folder/);
    }
    // Nothing of shop's is read into demo, under any key.
    for (const r of readings) {
      if (r.kind === "parsed") expect(r.config.value).not.toHaveProperty("secret");
    }
    // A refused folder link keeps the group's keys (nothing deleted on its account).
    expect(scan.complete).toBe(false);
  });

  it("still reads the other group itself normally", async () => {
    const tree = await scanTree(root);
    const shop = tree.groups.get("shop")!;
    const readings = await readGroupFiles(shop.files, 1024 * 1024);
    expect(readings.map((r) => [r.kind, r.file.sourcePath])).toEqual([
      ["parsed", "shop/checkout.json"],
      ["parsed", "shop/nested/b.json"],
    ]);
  });

  it("says 'outside the config root' for a link that leaves the root", async () => {
    const outside = realpathSync(mkdtempSync(join(tmpdir(), "kon-links-out-")));
    try {
      writeFileSync(join(outside, "x.json"), "{}");
      symlinkSync(join(outside, "x.json"), join(root, "shop", "out.json"));
      const scan = (await scanGroup(root, "shop"))!;
      const out = (await readGroupFiles(scan.files, 1024)).find(
        (r) => r.file.sourcePath === "shop/out.json",
      );
      expect(out?.kind).toBe("refused");
      if (out?.kind === "refused") {
        expect(out.problem.reason).toMatch(/symbolic link leads outside the config root/);
      }
    } finally {
      rmSync(join(root, "shop", "out.json"), { force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
