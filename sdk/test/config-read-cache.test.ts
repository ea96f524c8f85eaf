import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readGroupFiles } from "../src/config-files/group-files";
import { ReadCache } from "../src/config-files/read-cache";
import { scanGroup } from "../src/config-files/tree-scanner";

describe("ReadCache (issue 11 item 4: re-parse only what changed)", () => {
  const root = mkdtempSync(join(tmpdir(), "kon-cache-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const old = new Date(Date.now() - 60_000);
  const write = (name: string, text: string): void => {
    writeFileSync(join(root, "g", name), text);
    utimesSync(join(root, "g", name), old, old); // outside the racy window
  };

  it("reads nothing again for unchanged files, and parses a rewritten file only if its bytes changed", async () => {
    rmSync(join(root, "g"), { recursive: true, force: true });
    mkdirSync(join(root, "g"));
    for (let i = 0; i < 10; i++) write(`k${i}.yaml`, `v: ${i}\n`);
    const cache = new ReadCache();
    const first = await readGroupFiles((await scanGroup(root, "g"))!.files, 1 << 20, cache);
    expect(cache.hits).toEqual({ stat: 0, content: 0, misses: 10 });
    await readGroupFiles((await scanGroup(root, "g"))!.files, 1 << 20, cache);
    expect(cache.hits).toEqual({ stat: 10, content: 0, misses: 10 });
    writeFileSync(join(root, "g", "k1.yaml"), "v: 1\n"); // same bytes, new stat
    writeFileSync(join(root, "g", "k2.yaml"), "v: 22\n"); // new bytes
    const third = await readGroupFiles((await scanGroup(root, "g"))!.files, 1 << 20, cache);
    expect(cache.hits).toEqual({ stat: 18, content: 1, misses: 11 });
    const value = (r: (typeof third)[number]) => (r.kind === "parsed" ? r.config.value : undefined);
    expect(third.map(value)).toEqual(first.map((r, i) => (i === 2 ? { v: 22 } : value(r))));
  });
});
