import { readdirSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { Namespace } from "protobufjs";
import { Root, Type } from "protobufjs";
import type { MessageType } from "../src/index";
import {
  ConfigEntry,
  ConfigEvent,
  ConfigRevision,
  ConfigSnapshot,
  ConsistencyMode,
  Heartbeat,
  NodeEvent,
  PrepareRequest,
  PrepareVote,
  ProcessInfo,
  ProtoError,
  SourceError,
  decodeMessage,
  encodeMessage,
  typeName,
} from "../src/index";

// Values past 2^32 exercise the high word of 64-bit varints; MAX_SAFE_INTEGER is the largest
// value the number representation promises to keep exact.
const T0 = 1_763_000_000_123;
const BIG = Number.MAX_SAFE_INTEGER;

const configRevision = {
  revision: 2 ** 40 + 7,
  sha256: "ab".repeat(32),
  appliedAtMs: T0 + 1,
  rejectedRevision: 2 ** 40 + 8,
  pendingRevision: BIG,
};

const sourceError = {
  file: "service1/db.yaml",
  line: 12,
  column: 7,
  reason: "port must be integer",
  code: "schema",
  valuePath: "/db/port",
};

const configEntry = {
  payload: new TextEncoder().encode('{"db":{"port":5432}}'),
  contentType: "application/json",
  sourceFormat: ConfigEntry.SourceFormat.YAML,
  sha256: "cd".repeat(32),
  sourcePath: "service1/db.yaml",
  gitCommit: "0123456789abcdef0123456789abcdef01234567",
  gitAuthor: "Ada Lovelace <ada@example.org>",
  changeSetId: "cs-01",
  changeSetSize: 3,
  updatedAtMs: T0,
  schemaId: "service1.db",
  schemaVersion: 2,
  activateAtMs: T0 + 60_000,
  consistency: ConsistencyMode.STRONG,
  key: "service1.db",
  publishedBy: "loader-1",
  previousRevision: 2 ** 40 + 6,
  prepareId: "prep-1",
};

const processInfo = {
  pid: 4242,
  hostname: "host-a",
  sdkVersion: "0.1.0",
  nodeVersion: "v20.19.0",
  serviceName: "service1",
  serviceVersion: "1.4.2",
  instanceId: "5f0c6a1e",
};

const heartbeat = {
  group: "g1",
  nodeId: "node-1",
  seq: 2 ** 35 + 1,
  sentAtMs: T0 + 2,
  uptimeMs: 2 ** 33,
  intervalMs: 1000,
  allowedMisses: 3,
  leaving: true,
  process: processInfo,
  config: { service1: configRevision, "service1.db": { revision: 9, sha256: "ef".repeat(32) } },
  meta: { region: "eu-west", zone: "b" },
};

/** A message class with a fixture that sets every one of its fields. */
interface Case {
  name: string;
  type: MessageType<object, never> & {
    toObject(message: never, options?: object): Record<string, unknown>;
  };
  fixture: Record<string, unknown>;
}

// Ties each fixture to its class's property type, then erases both for the table.
function caseOf<T extends object, P extends object>(type: MessageType<T, P>, fixture: P): Case {
  return {
    name: typeName(type),
    type: type as unknown as Case["type"],
    fixture: fixture as Record<string, unknown>,
  };
}

const cases: Case[] = [
  caseOf(ConfigEntry, configEntry),
  caseOf(ConfigRevision, configRevision),
  caseOf(SourceError, sourceError),
  caseOf(ConfigSnapshot, {
    group: "g1",
    entries: { "service1.db": configEntry, service1: { ...configEntry, key: "service1" } },
    revisions: { "service1.db": 2 ** 40 + 7, service1: BIG },
    savedAtMs: T0 + 3,
  }),
  caseOf(ProcessInfo, processInfo),
  caseOf(PrepareRequest, {
    prepareId: "prep-1",
    group: "g1",
    entries: [configEntry],
    voters: ["node-1", "node-2"],
    deadlineMs: T0 + 3_000,
    timeoutMs: 3000,
    coordinator: "loader-1",
  }),
  caseOf(PrepareVote, {
    prepareId: "prep-1",
    nodeId: "node-1",
    ok: true,
    error: sourceError,
    keys: ["service1.db"],
    atMs: T0 + 6,
  }),
  caseOf(Heartbeat, heartbeat),
  caseOf(NodeEvent, {
    eventId: "g1.node-1.down.34359738369",
    group: "g1",
    nodeId: "node-1",
    kind: NodeEvent.Kind.FLAPPING,
    detectedAtMs: T0 + 4_000,
    lastSeenMs: T0 + 2,
    lastHeartbeat: heartbeat,
    reason: "ttl expired (MaxAge)",
    suspect: true,
    monitorId: "mon-2",
  }),
  caseOf(ConfigEvent, {
    eventId: "evt-1",
    group: "g1",
    key: "service1.db",
    kind: ConfigEvent.Kind.PREPARE_FAILED,
    revision: 2 ** 40 + 7,
    sha256: "cd".repeat(32),
    changeSetId: "cs-01",
    sourcePath: "service1/db.yaml",
    error: sourceError,
    nodeId: "node-1",
    atMs: T0 + 5,
    prepareId: "prep-1",
    pendingRevision: 2 ** 40 + 8,
  }),
];

/** Plain data for comparison: decoded bytes are Buffers and messages class instances. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

describe("every message of konorkestra.v1", () => {
  // Reflection over the .proto sources keeps the fixtures honest when fields are added.
  const pkgDir = join(__dirname, "..");
  const protoDir = join(pkgDir, "konorkestra", "v1");
  const root = new Root();
  // Imports are written relative to the package dir (`konorkestra/v1/config.proto`).
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(pkgDir, target));
  root.loadSync(
    readdirSync(protoDir)
      .filter((f) => f.endsWith(".proto"))
      .map((f) => join(protoDir, f)),
  );
  const pkg = root.lookup("konorkestra.v1") as Namespace;
  const messageTypes = pkg.nestedArray.filter((n): n is Type => n instanceof Type);

  it("has a round-trip case", () => {
    const names = messageTypes.map((t) => t.fullName.slice(1)).sort();
    expect(cases.map((c) => c.name).sort()).toEqual(names);
  });

  it.each(cases)("$name fixture sets every field to a non-default value", ({ name, fixture }) => {
    const type = messageTypes.find((t) => t.fullName === `.${name}`);
    expect(type).toBeDefined();
    const fields = type?.fieldsArray.map((f) => f.name).sort();
    expect(Object.keys(fixture).sort()).toEqual(fields);
    for (const [field, value] of Object.entries(fixture)) {
      const empty =
        value === "" ||
        value === 0 ||
        value === false ||
        (value instanceof Uint8Array && value.length === 0) ||
        (typeof value === "object" && value !== null && Object.keys(value).length === 0);
      expect({ field, empty }).toEqual({ field, empty: false });
    }
  });

  it.each(cases)("$name survives encode → decode unchanged", ({ type, fixture }) => {
    const bytes = encodeMessage(type, fixture as never);
    const decoded = decodeMessage(type, bytes);
    expect(plain(decoded)).toEqual(plain(fixture));
    expect(type.verify(decoded as Record<string, unknown>)).toBeNull();
  });

  it.each(cases)("$name refuses garbage bytes", ({ name, type }) => {
    // Field 1 with wire type 7, which does not exist, then a length prefix past the end.
    for (const garbage of [Uint8Array.of(0x0f), Uint8Array.of(0x0a, 0x10, 0x01)]) {
      expect(() => type.decode(garbage)).toThrow();
      expect(() => decodeMessage(type, garbage)).toThrow(`cannot decode ${name}`);
    }
  });
});

describe("64-bit fields", () => {
  it("decode as plain numbers, including map values and nested messages", () => {
    const hb = decodeMessage(Heartbeat, encodeMessage(Heartbeat, heartbeat));
    expect(typeof hb.seq).toBe("number");
    expect(typeof hb.sentAtMs).toBe("number");
    expect(hb.config.service1?.pendingRevision).toBe(BIG);
    const snap = decodeMessage(
      ConfigSnapshot,
      encodeMessage(ConfigSnapshot, { revisions: { a: BIG } }),
    );
    expect(snap.revisions.a).toBe(BIG);
  });

  it("fromObject yields numbers too", () => {
    expect(Heartbeat.fromObject({ seq: "12345678901" }).seq).toBe(12_345_678_901);
  });
});

describe("verify and encodeMessage", () => {
  // proto3 enums are open, so an unknown number is valid; a name string is not.
  it.each([
    { type: Heartbeat, bad: { seq: "not a number" }, field: "seq" },
    { type: ConfigEntry, bad: { consistency: "STRONG" }, field: "consistency" },
    { type: ConfigEntry, bad: { payload: 17 }, field: "payload" },
    { type: Heartbeat, bad: { config: { k: { revision: "x" } } }, field: "config.revision" },
    { type: NodeEvent, bad: { lastHeartbeat: { leaving: "yes" } }, field: "lastHeartbeat.leaving" },
  ])("$type.name rejects a bad $field", ({ type, bad, field }) => {
    const anyType = type as MessageType<unknown, object>;
    expect(type.verify(bad)).toContain(field);
    expect(() => encodeMessage(anyType, bad)).toThrow(ProtoError);
    expect(() => encodeMessage(anyType, bad)).toThrow(`cannot encode ${typeName(type)}: ${field}`);
  });

  it("ProtoError names the type and keeps the cause", () => {
    let caught: unknown;
    try {
      decodeMessage(Heartbeat, Uint8Array.of(0x0f));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProtoError);
    const err = caught as ProtoError;
    expect(err.typeName).toBe("konorkestra.v1.Heartbeat");
    expect(err.operation).toBe("decode");
    expect(err.cause).toBeInstanceOf(Error);
  });
});
