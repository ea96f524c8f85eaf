import type { NodeKey } from "../model/fleet-node";
import { LIST_STATUSES } from "./node-list-columns";
import type { BeatColumns } from "./node-list-columns";

/** A node's formatted JSON parts (see nodeJsonPartsSql), valid while its version is this. */
export interface Fragment {
  readonly version: number;
  readonly group: string;
  readonly node: string;
  /** UTF-8 of `{"group":…,"node":…` */
  readonly head: Buffer;
  /** UTF-8 of `,"liveness":…,"flappingAtMs":…` */
  readonly mid: Buffer;
  /** UTF-8 of `,"instanceId":…}` */
  readonly tail: Buffer;
  /** head + status + mid + `,"lastBeatAtMs":`, per status number, made when first needed. */
  readonly prefix: (Buffer | undefined)[];
  /** Its place in the NodeArena of its level of detail, -1 when none (the arena checks it). */
  slot: number;
}

/**
 * Where an answer is written: a buffer of at least `size` bytes (the answer is a view of it from
 * 0).
 */
export type AnswerAlloc = (size: number) => Buffer;

/** The default {@link AnswerAlloc}: a new buffer. */
export const allocAnswer: AnswerAlloc = (size) => Buffer.allocUnsafe(size);

/** Bytes around a node list (e.g. `{"nodes":` … `,"next":…}`), given the page's next key. */
export type NodeListFrame = (next: NodeKey | null) => { open: Buffer; close: Buffer };

const STATUS_JSON = LIST_STATUSES.map((s) => Buffer.from(`,"status":"${s}"`));
const BEAT_AT = Buffer.from(',"lastBeatAtMs":');
const BEAT_AGE = Buffer.from(',"lastBeatAgeMs":');
const LAST_SEQ = Buffer.from(',"lastSeq":');
const NULL = Buffer.from("null");
/** Room for the beat fields after the prefix: three numbers (≤ 21 bytes each) and two keys. */
const DYNAMIC_BYTES = 3 * 21 + BEAT_AGE.length + LAST_SEQ.length;
/** "00" … "99": two digits per step when writing a number. */
const PAIRS = Buffer.from(
  Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0")).join(""),
);

export function newFragment(
  version: number,
  group: string,
  node: string,
  head: string,
  mid: string,
  tail: string,
): Fragment {
  return {
    version,
    group,
    node,
    head: Buffer.from(head),
    mid: Buffer.from(mid),
    tail: Buffer.from(tail),
    prefix: [],
    slot: -1,
  };
}

function prefixOf(f: Fragment, status: number): Buffer {
  return (f.prefix[status] ??= Buffer.concat([f.head, STATUS_JSON[status]!, f.mid, BEAT_AT]));
}

/** Writes an integer-valued number (NaN: `null`) as JSON at `p`; returns the position after it. */
export function writeJsonInt(out: Buffer, p: number, v: number): number {
  if (Number.isNaN(v)) {
    out.set(NULL, p);
    return p + 4;
  }
  if (v < 0) {
    out[p++] = 0x2d; // -
    v = -v;
  }
  if (v >= 1e21) return p + out.write(String(v), p, "latin1"); // not reached by int8 columns
  let digits = 1;
  for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
  let q = p + digits;
  let x = v;
  while (x >= 100) {
    const next = Math.floor(x / 100);
    const pair = (x - next * 100) * 2;
    out[--q] = PAIRS[pair + 1]!;
    out[--q] = PAIRS[pair]!;
    x = next;
  }
  if (x >= 10) {
    out[--q] = PAIRS[x * 2 + 1]!;
    out[--q] = PAIRS[x * 2]!;
  } else out[--q] = 0x30 + x;
  return p + digits;
}

/**
 * Writes every /v1/nodes answer (the whole list, a group's, a page of any filter) from the
 * remembered JSON of its nodes, and keeps that JSON of every node of the last whole-list layout in
 * one buffer in key order: per node its prefix for the status it had (head, status, mid,
 * `,"lastBeatAtMs":`), its tail, a comma. Nodes next to each other there are written with one copy
 * each (the previous node's tail, the comma and this node's prefix are one run of bytes) from
 * memory read front to back, instead of two or three copies from ~20,000 small buffers scattered
 * over the heap plus a sizing pass over them. A page or a filtered list takes the same runs where
 * its rows are neighbours in the layout, and a prefix and a tail per node where they are not.
 *
 * A node whose fragment or shown status differs from its bytes here (changed since the arena was
 * laid out, or a flapping mark expired), or that is not here (never laid out: no whole list read
 * yet), is written from its fragment: its prefix for the status, the beat fields, its tail. The
 * arena is laid out again when a whole-list read finds enough such nodes. Unchanged runs of the
 * old layout are copied over whole, so relaying costs about one copy of the list. Two buffers
 * take turns, so a steady fleet allocates no new external memory for it.
 */
export class NodeArena {
  private buf: Buffer = Buffer.alloc(0);
  private spare: Buffer = Buffer.alloc(0);
  /** Nodes laid out (0: never laid out). */
  private count = 0;
  /** The fragment laid out in each slot (a fragment's `slot` is only believed when it is here). */
  private fragAt: Fragment[] = [];
  private status = new Uint8Array(0);
  /** Where slot k's prefix starts, its tail starts, its tail ends (a comma follows). */
  private start = new Int32Array(0);
  private mid = new Int32Array(0);
  private end = new Int32Array(0);
  /** Per-row scratch of the last assembly (slot or -1), reused. */
  private rowSlot = new Int32Array(0);
  /**
   * Views of the arena made when first used, kept with the layout: per slot k, the run from slot
   * k − 1's tail to k's prefix (`joints`), k's prefix, k's tail. Copying from a view costs one
   * call; `Buffer.copy` with offsets made a view per call (Node 20), a third of the time.
   */
  private joints: (Uint8Array | undefined)[] = [];
  private heads: (Uint8Array | undefined)[] = [];
  private tails: (Uint8Array | undefined)[] = [];
  /** How many times the layout was made (for tests and metrics). */
  layouts = 0;

  /** Slot of `f` when its bytes here were made for `status`, else -1. */
  private slotOf(f: Fragment, status: number): number {
    const k = f.slot;
    return k >= 0 && this.fragAt[k] === f && this.status[k] === status ? k : -1;
  }

  /**
   * After a whole-list read (`cols` is the whole list in key order): lays the arena out again
   * when more than `1 / tolerance` of the rows could not be copied from it in one run.
   */
  refresh(cols: BeatColumns, memo: ReadonlyMap<number, Fragment>, tolerance = 256): void {
    let misses = 0;
    let prev = -2;
    for (let i = 0; i < cols.n; i++) {
      const f = memo.get(cols.id[i]!);
      if (!f) continue;
      const k = this.slotOf(f, cols.status[i]!);
      if (k < 0 || k !== prev + 1) misses++;
      prev = k;
    }
    if (misses === 0 || (misses * tolerance < cols.n && this.count > 0)) return;
    this.layOut(cols, memo);
  }

  private layOut(cols: BeatColumns, memo: ReadonlyMap<number, Fragment>): void {
    const n = cols.n;
    const picked: Fragment[] = [];
    const old = new Int32Array(n);
    let size = 0;
    for (let i = 0; i < n; i++) {
      const f = memo.get(cols.id[i]!);
      if (!f) continue;
      const s = cols.status[i]!;
      const k = this.slotOf(f, s);
      old[picked.length] = k;
      picked.push(f);
      size +=
        k >= 0 ? this.end[k]! + 1 - this.start[k]! : prefixOf(f, s).length + f.tail.length + 1;
    }
    const m = picked.length;
    const out =
      this.spare.length >= size ? this.spare : Buffer.allocUnsafe(Math.ceil(size * 1.125));
    const start = new Int32Array(m);
    const mid = new Int32Array(m);
    const end = new Int32Array(m);
    const status = new Uint8Array(m);
    const src = this.buf;
    let p = 0;
    // A run of old slots next to each other is copied whole; `runAt` is where it goes in `out`.
    let runFrom = -1;
    let runTo = -1;
    let runAt = 0;
    const flush = (): void => {
      if (runFrom >= 0) p += src.copy(out, p, runFrom, runTo);
      runFrom = -1;
    };
    let j = 0;
    for (let i = 0; i < n; i++) {
      const f = memo.get(cols.id[i]!);
      if (!f) continue;
      const k = old[j]!;
      const s = cols.status[i]!;
      if (k >= 0) {
        if (runFrom < 0 || this.start[k] !== runTo) {
          flush();
          runFrom = runTo = this.start[k]!;
          runAt = p;
        }
        const shift = runAt - runFrom;
        start[j] = this.start[k]! + shift;
        mid[j] = this.mid[k]! + shift;
        end[j] = this.end[k]! + shift;
        runTo = this.end[k]! + 1;
      } else {
        flush();
        const prefix = prefixOf(f, s);
        start[j] = p;
        out.set(prefix, p);
        p += prefix.length;
        mid[j] = p;
        out.set(f.tail, p);
        p += f.tail.length;
        end[j] = p;
        out[p++] = 0x2c; // ,
      }
      status[j] = s;
      f.slot = j;
      j++;
    }
    flush();
    this.spare = this.buf;
    this.buf = out;
    this.count = m;
    this.fragAt = picked;
    this.start = start;
    this.mid = mid;
    this.end = end;
    this.status = status;
    this.joints = [];
    this.heads = [];
    this.tails = [];
    this.layouts++;
  }

  private view(from: number, to: number): Uint8Array {
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset + from, to - from);
  }

  private putTail(out: Buffer, p: number, k: number): number {
    const tail = (this.tails[k] ??= this.view(this.mid[k]!, this.end[k]!));
    out.set(tail, p);
    return p + tail.length;
  }

  /**
   * Puts the first `rowsShown` rows of `cols` together (rows whose node is not in `memo`, deleted
   * between the two reads, are left out): per row the node's prefix for its status, the beat
   * fields written as digits in place, its tail; the frame around the array, all in one buffer
   * from `alloc`. `next` is the last node shown when `more` rows follow.
   */
  assemble(
    cols: BeatColumns,
    rowsShown: number,
    more: boolean,
    memo: ReadonlyMap<number, Fragment>,
    nowMs: number,
    frame: NodeListFrame,
    alloc: AnswerAlloc = allocAnswer,
  ): { json: Buffer; next: NodeKey | null } {
    if (this.rowSlot.length < rowsShown) this.rowSlot = new Int32Array(rowsShown);
    const rowSlot = this.rowSlot;
    const picked: (Fragment | undefined)[] = new Array<Fragment | undefined>(rowsShown);
    let size = 2;
    let last: Fragment | undefined;
    for (let i = 0; i < rowsShown; i++) {
      const f = memo.get(cols.id[i]!);
      if (!f) {
        rowSlot[i] = -2; // deleted between the two reads
        continue;
      }
      last = f;
      const s = cols.status[i]!;
      const k = this.slotOf(f, s);
      rowSlot[i] = k;
      if (k >= 0) size += this.end[k]! + 1 - this.start[k]! + DYNAMIC_BYTES;
      else {
        picked[i] = f;
        size += prefixOf(f, s).length + f.tail.length + DYNAMIC_BYTES + 1;
      }
    }
    const next = more && last ? { group: last.group, node: last.node } : null;
    const { open, close } = frame(next);
    const out = alloc(open.length + size + close.length);
    out.set(open, 0);
    let p = open.length;
    out[p++] = 0x5b; // [
    const first = p;
    const now = Math.trunc(nowMs);
    let pending = -1; // slot whose tail (and comma) is not written yet
    for (let i = 0; i < rowsShown; i++) {
      const k = rowSlot[i]!;
      if (k === -2) continue;
      if (k >= 0 && pending >= 0 && k === pending + 1) {
        // previous tail, comma, this prefix: one run
        const joint = (this.joints[k] ??= this.view(this.mid[pending]!, this.mid[k]!));
        out.set(joint, p);
        p += joint.length;
      } else {
        if (pending >= 0) {
          p = this.putTail(out, p, pending);
          pending = -1;
        }
        if (p > first) out[p++] = 0x2c; // ,
        if (k >= 0) {
          const prefix = (this.heads[k] ??= this.view(this.start[k]!, this.mid[k]!));
          out.set(prefix, p);
          p += prefix.length;
        } else {
          const f = picked[i]!;
          const prefix = prefixOf(f, cols.status[i]!);
          out.set(prefix, p);
          p += prefix.length;
        }
      }
      const beat = cols.beatMs[i]!;
      p = writeJsonInt(out, p, beat);
      out.set(BEAT_AGE, p);
      p = writeJsonInt(
        out,
        p + BEAT_AGE.length,
        Number.isNaN(beat) ? NaN : Math.max(0, now - beat),
      );
      out.set(LAST_SEQ, p);
      p = writeJsonInt(out, p + LAST_SEQ.length, cols.lastSeq[i]!);
      if (k >= 0) pending = k;
      else {
        const tail = picked[i]!.tail;
        out.set(tail, p);
        p += tail.length;
      }
    }
    if (pending >= 0) p = this.putTail(out, p, pending);
    out[p++] = 0x5d; // ]
    out.set(close, p);
    p += close.length;
    return { json: out.subarray(0, p), next };
  }
}
