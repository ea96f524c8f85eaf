import { ConfigEvent, NodeEvent, encodeMessage } from "@konorkestra/proto";
import { wireNames } from "@konorkestra/sdk/internal";
import { configEventRow } from "../src/ingest/events/config-event-row";
import { nodeEventLine } from "../src/ingest/events/node-event-row";

// Group and kind of an event come from its subject, through the sdk's parser; the payload may
// leave the group out but may not contradict the subject.

const names = wireNames("kon");
const rec = (subject: string, data: Uint8Array) => ({
  subject,
  data,
  streamSeq: 7,
  timeMs: 1_700_000_000_000,
});

describe("node events", () => {
  const down = (o: Partial<Parameters<typeof NodeEvent.create>[0]> = {}) =>
    encodeMessage(NodeEvent, {
      eventId: "e1",
      group: "g1",
      nodeId: "n1",
      kind: NodeEvent.Kind.DOWN,
      detectedAtMs: 1_700_000_000_500,
      ...o,
    });
  const fields = (line: string | undefined) => line!.trimEnd().split("\t");

  test("group and kind are the subject's; the payload may leave the group out", () => {
    expect(fields(nodeEventLine(names, rec("kon.evt.g1.node.down", down())))).toMatchObject({
      2: "g1",
      3: "n1",
      4: "down",
    });
    const noGroup = nodeEventLine(names, rec("kon.evt.g1.node.down", down({ group: "" })));
    expect(fields(noGroup)[2]).toBe("g1");
  });

  test("a subject that does not parse, or a payload that contradicts it, is refused", () => {
    for (const subject of ["kon.evt.g1", "kon.evt.G1.node.down", "kon.evt.g1.node.gone"]) {
      expect(() => nodeEventLine(names, rec(subject, down()))).toThrow(
        /invalid node event subject/,
      );
    }
    expect(() => nodeEventLine(names, rec("kon.evt.g1.config.published", down()))).toThrow(
      /invalid node event subject/,
    );
    expect(() => nodeEventLine(names, rec("kon.evt.g2.node.down", down()))).toThrow(
      "payload names group g1, subject kon.evt.g2.node.down names g2",
    );
    expect(() => nodeEventLine(names, rec("kon.evt.g1.node.up", down()))).toThrow(
      "payload kind down, subject kon.evt.g1.node.up says up",
    );
    expect(() =>
      nodeEventLine(names, rec("kon.evt.g1.node.down", down({ nodeId: "a.b" }))),
    ).toThrow(/invalid node id "a.b"/);
  });

  test("a payload kind this version does not know carries no transition: skipped", () => {
    const data = down({ kind: 42 as NodeEvent.Kind });
    expect(nodeEventLine(names, rec("kon.evt.g1.node.down", data))).toBeUndefined();
  });
});

describe("config events", () => {
  const published = (group: string) =>
    encodeMessage(ConfigEvent, {
      eventId: "c1",
      group,
      key: "svc",
      kind: ConfigEvent.Kind.PUBLISHED,
      revision: 3,
    });

  test("group and kind are the subject's; the payload may leave the group out", () => {
    const row = configEventRow(names, rec("kon.evt.g1.config.published", published("")));
    expect(row).toMatchObject({ group: "g1", kind: "published", key: "svc", revision: 3 });
  });

  test("a subject of another family or group is refused", () => {
    expect(() => configEventRow(names, rec("kon.evt.g1.node.down", published("g1")))).toThrow(
      /invalid config event subject/,
    );
    expect(() =>
      configEventRow(names, rec("kon.evt.g2.config.published", published("g1"))),
    ).toThrow(/payload names group g1/);
    expect(() => configEventRow(names, rec("kon.evt.g1.config.deleted", published("g1")))).toThrow(
      "payload kind published, subject kon.evt.g1.config.deleted says deleted",
    );
  });
});
