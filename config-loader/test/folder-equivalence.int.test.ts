// One folder, read two ways: published by the config-loader (real nats-server, real KV bucket)
// and read directly by the SDK's `KON_CONFIG_SOURCE=file:<dir>` source (public API, no NATS).
// Both must see the same keys with byte-identical values and refuse the same files for the same
// reasons: a folder must not mean one thing in development and another once published.
import { Konorkestra } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import { z } from "zod";
import type { ConfigEntry } from "@konorkestra/proto";
import { Harness, put } from "./loader-harness";

const GROUP = "eq";

/** Every kind of file the config-file rules tell apart. */
function writeFolder(root: string): void {
  const at = (rel: string, content: string | Uint8Array): string =>
    put(root, `${GROUP}/${rel}`, content);
  // Accepted: JSON, YAML and YML, nested folders, unicode, keys that sort unlike they are written.
  at(
    "service1.yaml",
    'name: "Zoë 🚀"\nreplicas: 3\nlabels: {b: 2, a: 1, "10": x, "2": y}\nnote: "日本語 \\u2028 tab\\t"\n',
  );
  at(
    "service1/db.json",
    '{ "port": 5432,\n  "host": "db.local", "pool": {"max": 10, "min": 1} }\n',
  );
  at("service1/cache.yml", "ttl: 1.5e3\nenabled: true\nkeys: [a, ~, 3]\n");
  at("a/b/c.json", '\ufeff{"deep": ["\\ud83d\\ude80", "\\u00e9", "\\ud800"]}');
  at("multi-line.yaml", "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\n");
  // Not config at all: ignored by both, refused by neither.
  at(".hidden.json", '{"secret": true}');
  at(".git/config.json", '{"core": 1}');
  at("notes.md", "# notes");
  at("backup.json~", '{"old": true}');
  // Refused by both.
  at("dup.json", '{"from": "json"}');
  at("dup.yaml", "from: yaml\n");
  at("broken.json", '{"a": 1,}');
  at("dupkeys.yaml", "a: 1\na: 2\n");
  at("empty.yaml", "\n");
  at("infinite.yaml", "x: .inf\n");
  at("latin1.json", Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]));
  at("big.json", JSON.stringify({ blob: "x".repeat(1024 * 1024) }));
  at("bad name.json", '{"a": 1}');
  at("ünïcode.json", '{"a": 1}');
  at("v1.2/db.json", '{"a": 1}');
}

interface Refusal {
  sourcePath: string;
  code: string;
  reason: string;
}

/** The SDK logs each refused file as `config file <path> not applied[ (line, column)]: <reason> [<code>]…`. */
const REFUSAL = /config file (.+?) not applied(?: \(line \d+, column \d+\))?: (.*) \[(\w+)\]/;

function sdkRefusals(lines: string[]): Refusal[] {
  return lines
    .map((l) => REFUSAL.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ sourcePath: m[1]!, code: m[3]!, reason: m[2]! }));
}

const bySource = (a: Refusal, b: Refusal): number => a.sourcePath.localeCompare(b.sourcePath);

describe("a folder means the same to the config-loader and to the SDK's file: source", () => {
  let h: Harness;
  let kon: Konorkestra;
  let root: string;
  const lines: string[] = [];
  const logger: Logger = {
    info: (m) => lines.push(m),
    warn: (m) => lines.push(m),
    error: (m) => lines.push(m),
  };
  let published: Map<string, { entry: ConfigEntry; revision: number }>;
  let loaderRefusals: Refusal[];

  beforeAll(async () => {
    h = await Harness.start();
    root = h.tempDir();
    writeFolder(root);
    const { loader } = await h.loader(root);
    const report = await loader.whenReady();
    const group = report.groups.find((g) => g.group === GROUP);
    loaderRefusals = (group?.rejected ?? [])
      .map(({ sourcePath, code, reason }) => ({ sourcePath, code, reason }))
      .sort(bySource);
    published = await h.entries(GROUP);
    kon = await Konorkestra.connect({
      servers: "nats://127.0.0.1:1", // nothing listens: the file source needs no NATS
      group: GROUP,
      nodeId: "dev",
      configSource: `file:${root}`,
      logger,
    });
  });
  afterAll(async () => {
    await kon?.close();
    await h?.stop();
  });

  it("publishes the accepted files, under the keys the folders and names give", () => {
    expect([...published.keys()].sort()).toEqual([
      "a.b.c",
      "multi-line",
      "service1",
      "service1.cache",
      "service1.db",
    ]);
  });

  it("gives every key the same value, byte for byte, with the same hash and source path", async () => {
    for (const [key, { entry }] of published) {
      const handle = await kon.config(key, z.unknown());
      // The SDK holds JSON.parse(payload); JSON.stringify gives the payload back exactly.
      const sdkBytes = Buffer.from(JSON.stringify(handle.value), "utf8");
      expect({ key, bytes: sdkBytes.toString("hex") }).toEqual({
        key,
        bytes: Buffer.from(entry.payload).toString("hex"),
      });
      expect(handle.meta.sha256).toBe(entry.sha256);
      expect(handle.meta.sourcePath).toBe(entry.sourcePath);
      expect(handle.source).toBe("file");
    }
  });

  it("refuses the same files with the same code and reason", async () => {
    // Opening any key runs the initial scan, which logs every refusal once.
    await kon.config("service1", z.unknown());
    const sdk = sdkRefusals(lines).sort(bySource);
    expect(loaderRefusals.map((r) => r.sourcePath)).toEqual([
      `${GROUP}/bad name.json`,
      `${GROUP}/big.json`,
      `${GROUP}/broken.json`,
      `${GROUP}/dup.json`,
      `${GROUP}/dup.yaml`,
      `${GROUP}/dupkeys.yaml`,
      `${GROUP}/empty.yaml`,
      `${GROUP}/infinite.yaml`,
      `${GROUP}/latin1.json`,
      `${GROUP}/ünïcode.json`,
      `${GROUP}/v1.2/db.json`,
    ]);
    expect(sdk).toEqual(loaderRefusals);
  });

  it("has no value for a key whose files were refused", async () => {
    for (const key of ["dup", "broken", "dupkeys", "empty", "infinite", "latin1", "big"]) {
      await expect(kon.config(key, z.unknown())).rejects.toMatchObject({
        code: "CONFIG_NOT_FOUND",
      });
    }
  });
});
