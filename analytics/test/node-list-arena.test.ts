import { NodeArena, newFragment, writeJsonInt } from "../src/store/node-list-arena";
import type { Fragment, NodeListFrame } from "../src/store/node-list-arena";
import { LIST_STATUSES, emptyBeatColumns } from "../src/store/node-list-columns";
import type { BeatColumns } from "../src/store/node-list-columns";

// The arena writes every /v1/nodes answer (whole list, filters, pages). Its bytes must be the
// plain writing of the list (per node: head, status, mid, beat fields, tail; commas; the frame)
// on a fleet that changes between requests (new versions, statuses, flapping marks that expire,
// nodes added and removed, rows of a filter or a page), whether it was laid out again, laid out
// on an older fleet, or never laid out (pages before any whole-list read).

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Node {
  id: number;
  version: number;
  status: number;
  beatMs: number;
  seq: number;
}

const frame: NodeListFrame = (next) => ({
  open: Buffer.from('{"nodes":'),
  close: Buffer.from(`,"next":${JSON.stringify(next)}}`),
});

function fragmentOf(n: Node, r: () => number): Fragment {
  const pad = "x".repeat(Math.floor(r() * 300)); // sizes vary with every version
  return fragment(
    n.version,
    `g${n.id % 7}`,
    `node-${n.id}`,
    `{"group":"g${n.id % 7}","node":"node-${n.id}"`,
    `,"liveness":"up","sinceMs":${n.version},"suspect":false,"flappingAtMs":null`,
    `,"instanceId":"i-${n.id}-${n.version}","pad":"${pad}"}`,
  );
}

function columnsOf(rows: readonly Node[]): BeatColumns {
  const cols = emptyBeatColumns(rows.length);
  cols.n = rows.length;
  rows.forEach((row, i) => {
    cols.id[i] = row.id;
    cols.version[i] = row.version;
    cols.status[i] = row.status;
    cols.beatMs[i] = row.beatMs;
    cols.lastSeq[i] = row.seq;
  });
  return cols;
}

/** The fragments' source text by id, for the reference below (never the arena's bytes). */
const texts = new Map<Fragment, { head: string; mid: string; tail: string }>();

function fragment(
  version: number,
  group: string,
  node: string,
  head: string,
  mid: string,
  tail: string,
): Fragment {
  const f = newFragment(version, group, node, head, mid, tail);
  texts.set(f, { head, mid, tail });
  return f;
}

const json = (v: number): string => (Number.isNaN(v) ? "null" : JSON.stringify(v));

/**
 * The answer written the plain way, with strings: what /v1/nodes served before the arena wrote
 * pages (the fragment-by-fragment writer it replaced gave these bytes; its own test checked them
 * the same way).
 */
function reference(
  cols: BeatColumns,
  shown: number,
  more: boolean,
  memo: ReadonlyMap<number, Fragment>,
  nowMs: number,
  frameOf: NodeListFrame,
): { json: Buffer; next: unknown } {
  const items: string[] = [];
  let last: Fragment | undefined;
  for (let i = 0; i < shown; i++) {
    const f = memo.get(cols.id[i]!);
    if (!f) continue;
    last = f;
    const t = texts.get(f)!;
    const beat = cols.beatMs[i]!;
    const age = Number.isNaN(beat) ? NaN : Math.max(0, Math.trunc(nowMs) - beat);
    items.push(
      `${t.head},"status":"${LIST_STATUSES[cols.status[i]!]}"${t.mid}` +
        `,"lastBeatAtMs":${json(beat)},"lastBeatAgeMs":${json(age)}` +
        `,"lastSeq":${json(cols.lastSeq[i]!)}${t.tail}`,
    );
  }
  const next = more && last ? { group: last.group, node: last.node } : null;
  const { open, close } = frameOf(next);
  return {
    json: Buffer.concat([open, Buffer.from(`[${items.join(",")}]`), close]),
    next,
  };
}

test("the arena's answer is the plain writing, request after request of a changing fleet", () => {
  const r = rng(14);
  let nextId = 1;
  let fleet: Node[] = [];
  const memo = new Map<number, Fragment>();
  const arena = new NodeArena();
  const never = new NodeArena(); // pages before any whole-list read
  const add = (): Node => ({
    id: nextId++,
    version: 1,
    status: 1,
    beatMs: 1_796_000_000_000 + Math.floor(r() * 1e6),
    seq: Math.floor(r() * 1e9),
  });
  for (let i = 0; i < 3000; i++) fleet.push(add());
  let compared = 0;
  for (let round = 0; round < 40; round++) {
    // changes between requests
    const changes = round % 5 === 0 ? 400 : Math.floor(r() * 12);
    for (let c = 0; c < changes; c++) {
      const n = fleet[Math.floor(r() * fleet.length)]!;
      const what = r();
      if (what < 0.4) n.version++;
      else if (what < 0.7)
        n.status = Math.floor(r() * 5); // e.g. a flapping mark expired
      else if (what < 0.8) n.beatMs = r() < 0.1 ? NaN : n.beatMs + 1000;
      else if (what < 0.9)
        fleet.splice(Math.floor(r() * fleet.length), 0, add()); // inserted
      else fleet = fleet.filter((x) => x !== n); // removed
    }
    // the reads of a request: fragments refreshed for the rows whose version moved
    for (const n of fleet) {
      if (memo.get(n.id)?.version !== n.version) memo.set(n.id, fragmentOf(n, r));
    }
    const nowMs = 1_796_000_500_000 + round + 0.75;
    const whole = columnsOf(fleet);
    arena.refresh(whole, memo, round % 2 === 0 ? 256 : 1e9);
    // a node deleted between the two reads: in the columns, not in the memory
    const gone = fleet[Math.floor(r() * fleet.length)]!;
    const saved = memo.get(gone.id)!;
    memo.delete(gone.id);
    const cases: [BeatColumns, number, boolean][] = [[whole, whole.n, false]];
    cases.push([whole, 1500, whole.n > 1500]); // a large first page (read by COPY)
    const group = columnsOf(fleet.filter((n) => n.id % 7 === round % 7));
    cases.push([group, group.n, false]);
    const status = columnsOf(fleet.filter((n) => n.status === round % 5));
    cases.push([status, status.n, false]);
    // pages (limit 100, a cursor anywhere; the last one short), of the list and of a filter
    const from = Math.floor(r() * fleet.length);
    const page = columnsOf(fleet.slice(from, from + 101));
    cases.push([page, Math.min(100, page.n), page.n > 100]);
    const tail = columnsOf(fleet.slice(fleet.length - 50));
    cases.push([tail, tail.n, false]);
    const upPage = columnsOf(
      fleet
        .slice(from)
        .filter((n) => n.status === 1)
        .slice(0, 8),
    );
    cases.push([upPage, Math.min(7, upPage.n), upPage.n > 7]);
    for (const [cols, shown, more] of cases) {
      const want = reference(cols, shown, more, memo, nowMs, frame);
      for (const a of [arena, never]) {
        const got = a.assemble(cols, shown, more, memo, nowMs, frame);
        expect(got.next).toEqual(want.next);
        expect(got.json.toString()).toBe(want.json.toString());
        expect(got.json.equals(want.json)).toBe(true);
        compared++;
      }
    }
    memo.set(gone.id, saved);
  }
  expect(compared).toBe(560);
  expect(never.layouts).toBe(0);
  // laid out again when much changed, not on every request
  expect(arena.layouts).toBeGreaterThan(4);
  expect(arena.layouts).toBeLessThan(40);
  const final = arena.assemble(columnsOf(fleet), fleet.length, false, memo, 0, frame);
  expect(() => JSON.parse(final.json.toString()) as unknown).not.toThrow();
});

test("a page is the fragments with status and beat fields between them, in the frame", () => {
  const memo = new Map<number, Fragment>([
    [1, fragment(7, "g", "a", '{"group":"g","node":"a"', ',"liveness":"up"', ',"x":"ü\\"\\\\"}')],
    [2, fragment(7, "g", "b", '{"group":"g","node":"b"', ',"liveness":"down"', ',"x":1}')],
    [4, fragment(7, "g", "d", '{"group":"g","node":"d"', ',"liveness":"left"', ',"x":2}')],
  ]);
  const nowMs = 1_796_000_000_123;
  const cols = columnsOf([
    { id: 1, version: 7, status: 1, beatMs: nowMs - 2, seq: 12 },
    { id: 3, version: 7, status: 1, beatMs: NaN, seq: NaN }, // deleted meanwhile
    { id: 2, version: 7, status: 4, beatMs: NaN, seq: NaN }, // down, shown as flapping
    { id: 4, version: 7, status: 3, beatMs: nowMs + 5, seq: 0 }, // beat "after" now: age 0
  ]);
  const laidOut = new NodeArena();
  laidOut.refresh(cols, memo);
  expect(laidOut.layouts).toBe(1);
  for (const arena of [new NodeArena(), laidOut]) {
    const page = arena.assemble(cols, 3, true, memo, nowMs, frame);
    expect(page.next).toEqual({ group: "g", node: "b" });
    expect(JSON.parse(page.json.toString("utf8"))).toEqual({
      nodes: [
        {
          group: "g",
          node: "a",
          status: "up",
          liveness: "up",
          lastBeatAtMs: nowMs - 2,
          lastBeatAgeMs: 2,
          lastSeq: 12,
          x: 'ü"\\',
        },
        {
          group: "g",
          node: "b",
          status: "flapping",
          liveness: "down",
          lastBeatAtMs: null,
          lastBeatAgeMs: null,
          lastSeq: null,
          x: 1,
        },
      ],
      next: { group: "g", node: "b" },
    });
    const rest = arena.assemble(cols, 4, false, memo, nowMs, frame);
    expect(rest.next).toBeNull();
    const restBody = JSON.parse(rest.json.toString("utf8")) as { nodes: { node: string }[] };
    expect(restBody.nodes.map((n) => n.node)).toEqual(["a", "b", "d"]);
    expect(restBody.nodes[2]).toMatchObject({ status: "left", lastBeatAgeMs: 0, lastSeq: 0 });
    const first = arena.assemble(cols, 1, false, memo, nowMs, frame);
    expect((JSON.parse(first.json.toString("utf8")) as { nodes: unknown[] }).nodes).toHaveLength(1);
    expect(first.next).toBeNull();
    // nothing shown: an empty array, no cursor even when more rows follow
    const none = arena.assemble(cols, 0, true, memo, nowMs, frame);
    expect(none.json.toString()).toBe('{"nodes":[],"next":null}');
  }
});

test("numbers are written as JSON.stringify writes them", () => {
  const out = Buffer.alloc(64);
  for (const v of [0, 7, 10, 99, 100, 101, 1234, 1_796_000_000_123, 2 ** 53 - 1, -5, -100]) {
    const end = writeJsonInt(out, 3, v);
    expect(out.toString("latin1", 3, end)).toBe(JSON.stringify(v));
  }
  expect(out.toString("latin1", 0, writeJsonInt(out, 0, NaN))).toBe("null");
});
