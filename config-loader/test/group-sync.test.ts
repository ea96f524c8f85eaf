// Domain tests of one group pass with an in-memory ConfigStore (a fake of the store interface,
// as CONVENTIONS allows for pure domain tests; the NATS store is covered by the *.int tests).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConfigEntryInit, ConfigEventInit } from "@konorkestra/proto";
import { silentLogger } from "@konorkestra/sdk";
import type {
  ChangeMessage,
  ConfigStore,
  CurrentEntry,
  SchemaSource,
  StoredChangeSet,
} from "../src/config-store";
import { GroupSynchronizer } from "../src/group-sync";
import { RejectionLog } from "../src/rejection-log";
import { scanGroup } from "@konorkestra/sdk/internal";
import type { GroupScan } from "@konorkestra/sdk/internal";

class MemoryStore implements ConfigStore {
  readonly keys = new Map<string, { sha256: string; revision: number; entry: ConfigEntryInit }>();
  readonly events: ConfigEventInit[] = [];
  seq = 0;
  failEvents = false;
  payloadLimit = 1024 * 1024;

  current(): Promise<Map<string, CurrentEntry>> {
    return Promise.resolve(
      new Map(
        [...this.keys].map(([k, v]) => [
          k,
          { sha256: v.sha256, revision: v.revision, gitCommit: "" },
        ]),
      ),
    );
  }
  write(_group: string, id: string, messages: ChangeMessage[]): Promise<StoredChangeSet> {
    const first = this.seq + 1;
    for (const m of messages) {
      this.seq++;
      if (m.entry)
        this.keys.set(m.key, { sha256: m.entry.sha256!, revision: this.seq, entry: m.entry });
      else this.keys.delete(m.key);
    }
    const atomic = messages.length > 1;
    return Promise.resolve({
      id,
      size: messages.length,
      firstRevision: first,
      lastRevision: this.seq,
      atomic,
    });
  }
  publishEvents(_group: string, events: ConfigEventInit[]): Promise<void> {
    if (this.failEvents) return Promise.reject(new Error("no responders"));
    this.events.push(...events);
    return Promise.resolve();
  }
  maxPayload(): number {
    return this.payloadLimit;
  }
}

const noSchemas: SchemaSource = { get: () => Promise.resolve([]) };

describe("GroupSynchronizer", () => {
  let root: string;
  let store: MemoryStore;
  let sync: GroupSynchronizer;
  const options = { maxValueBytes: 1024 * 1024, keepDeleted: false, loaderId: "t", git: false };
  const write = (rel: string, content: string): void => {
    mkdirSync(join(root, "g", rel, ".."), { recursive: true });
    writeFileSync(join(root, "g", rel), content);
  };
  const scan = async (): Promise<GroupScan> => (await scanGroup(root, "g"))!;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "kon-sync-"));
    mkdirSync(join(root, "g"));
    store = new MemoryStore();
    sync = new GroupSynchronizer(store, noSchemas, new RejectionLog(), options, silentLogger);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("keeps the key of a file that vanished between listing and reading", async () => {
    write("a.json", '{"v": 1}');
    await sync.sync("g", await scan());
    const listed = await scan();
    rmSync(join(root, "g/a.json"));
    const r = await sync.sync("g", listed);
    expect(r.changeSets).toEqual([]);
    expect(r.rejected).toEqual([]);
    expect(store.keys.has("a")).toBe(true);
    // The next pass (the watcher's unlink event) sees it gone and deletes it.
    expect((await sync.sync("g", await scan())).changeSets[0]).toMatchObject({ deletes: ["a"] });
  });

  it("rejects two files for one key and keeps the key's value", async () => {
    write("a.json", '{"v": 1}');
    await sync.sync("g", await scan());
    write("a.yaml", "v: 2\n");
    const r = await sync.sync("g", await scan());
    expect(r.changeSets).toEqual([]);
    expect(r.rejected.map((x) => [x.sourcePath, x.code])).toEqual([
      ["g/a.json", "name"],
      ["g/a.yaml", "name"],
    ]);
    expect(r.rejected[0]!.reason).toMatch(
      /key "a" is defined by several files \(g\/a\.json, g\/a\.yaml\)/,
    );
    expect(store.keys.get("a")!.entry.sourcePath).toBe("g/a.json");
  });

  it("deletes nothing when the folder could not be listed completely", async () => {
    write("a.json", "{}");
    write("b.json", "{}");
    await sync.sync("g", await scan());
    rmSync(join(root, "g/b.json"));
    const partial = { ...(await scan()), complete: false };
    const r = await sync.sync("g", partial);
    expect(r.kept).toEqual(["b"]);
    expect(store.keys.has("b")).toBe(true);
  });

  it("deletes every key of a group whose folder is gone", async () => {
    write("a.json", "{}");
    write("sub/b.json", "{}");
    await sync.sync("g", await scan());
    const r = await sync.sync("g", undefined);
    expect(r.changeSets[0]).toMatchObject({ size: 2, deletes: ["a", "sub.b"] });
    expect(store.keys.size).toBe(0);
  });

  it("stands by a KV write when its events cannot be published, and announces rejections later", async () => {
    write("a.json", '{"v": 1}');
    write("bad.json", "{");
    store.failEvents = true;
    const r = await sync.sync("g", await scan());
    expect(store.keys.has("a")).toBe(true);
    expect(r.eventErrors).toBe(2);
    store.failEvents = false;
    const r2 = await sync.sync("g", await scan());
    expect(r2.rejected[0]).toMatchObject({ sourcePath: "g/bad.json", firstSeen: false });
    expect(store.events.map((e) => e.sourcePath)).toEqual(["g/bad.json"]);
    await sync.sync("g", await scan());
    expect(store.events).toHaveLength(1);
  });

  it("refuses a value that would not fit in one NATS message", async () => {
    store.payloadLimit = 3000;
    write("big.json", JSON.stringify({ x: "y".repeat(2000) }));
    const r = await sync.sync("g", await scan());
    expect(r.rejected[0]).toMatchObject({ code: "size" });
    expect(r.rejected[0]!.reason).toMatch(/NATS max_payload leaves room for/);
    expect(store.keys.size).toBe(0);
  });
});
