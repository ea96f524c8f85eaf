import { NodeArena } from "../src/store/node-list-arena";
import { assembleNodeList, newFragment } from "../src/store/node-list-assembly";
import type { BeatColumns, Fragment, NodeListFrame } from "../src/store/node-list-assembly";

// The arena must give the answer the fragment-by-fragment assembly gives, byte for byte, on a
// fleet that changes between requests (new versions, statuses, flapping marks that expire,
// nodes added and removed, rows of a filter or a page), whether or not it was laid out again.

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
  return newFragment(
    n.version,
    `g${n.id % 7}`,
    `node-${n.id}`,
    `{"group":"g${n.id % 7}","node":"node-${n.id}"`,
    `,"liveness":"up","sinceMs":${n.version},"suspect":false,"flappingAtMs":null`,
    `,"instanceId":"i-${n.id}-${n.version}","pad":"${pad}"}`,
  );
}

function columnsOf(rows: readonly Node[]): BeatColumns {
  const n = rows.length;
  const cols = {
    n,
    id: new Float64Array(n),
    version: new Float64Array(n),
    status: new Uint8Array(n),
    beatMs: new Float64Array(n),
    lastSeq: new Float64Array(n),
  };
  rows.forEach((row, i) => {
    cols.id[i] = row.id;
    cols.version[i] = row.version;
    cols.status[i] = row.status;
    cols.beatMs[i] = row.beatMs;
    cols.lastSeq[i] = row.seq;
  });
  return cols;
}

test("the arena's answer is the fragment assembly's, request after request of a changing fleet", () => {
  const r = rng(14);
  let nextId = 1;
  let fleet: Node[] = [];
  const memo = new Map<number, Fragment>();
  const arena = new NodeArena();
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
    const nowMs = 1_796_000_500_000 + round;
    const whole = columnsOf(fleet);
    arena.refresh(whole, memo, round % 2 === 0 ? 256 : 1e9);
    // a node deleted between the two reads: in the columns, not in the memory
    const gone = fleet[Math.floor(r() * fleet.length)]!;
    const saved = memo.get(gone.id)!;
    memo.delete(gone.id);
    const cases: [BeatColumns, number, boolean][] = [[whole, whole.n, false]];
    const group = columnsOf(fleet.filter((n) => n.id % 7 === round % 7));
    cases.push([group, group.n, false]);
    const from = Math.floor(r() * fleet.length);
    const page = columnsOf(fleet.slice(from, from + 101));
    cases.push([page, Math.min(100, page.n), page.n > 100]);
    for (const [cols, shown, more] of cases) {
      const want = assembleNodeList(cols, shown, more, memo, nowMs, frame);
      const got = arena.assemble(cols, shown, more, memo, nowMs, frame);
      expect(got.next).toEqual(want.next);
      expect(got.json.equals(want.json)).toBe(true);
      compared++;
    }
    memo.set(gone.id, saved);
  }
  expect(compared).toBe(120);
  // laid out again when much changed, not on every request
  expect(arena.layouts).toBeGreaterThan(4);
  expect(arena.layouts).toBeLessThan(40);
  const final = assembleNodeList(columnsOf(fleet), fleet.length, false, memo, 0, frame);
  expect(() => JSON.parse(final.json.toString()) as unknown).not.toThrow();
});
