import type { ConfigEntry } from "@konorkestra/proto";
import type { AppliedRegistry, AppliedRevision } from "../applied-registry";
import type { Logger } from "../logger";
import { CheckedCandidates } from "./checked-candidates";
import type { HandleView } from "./config-handle";
import type { SnapshotEntry } from "./config-snapshot-store";
import type { ConfigMeta, ConfigRefusal, ConfigSchema } from "./config-types";
import { claimedSha, jsonOf, verifiedEntry } from "./entry-verification";
import type { CandidateVerdict } from "./prepare-responder";
import { validate } from "./schema-verdict";
import type { ChangeBatch, RawChange } from "./raw-change";
import type { Rejection } from "./rejection-reporter";
import type { ValueSlot } from "./value-slot";

/** A key's value under one schema, and the handles that share it. */
export interface SlotRecord {
  readonly schema: ConfigSchema;
  readonly slot: ValueSlot;
  readonly handles: Set<HandleView>;
}

interface Parsed {
  readonly entry: ConfigEntry;
  readonly json: unknown;
  readonly sha256: string;
}

interface KeyRecord {
  readonly key: string;
  /** The accepted change (undefined: the key has no value). */
  change: RawChange | undefined;
  /** Decode + JSON of `change`, done at most once. */
  parsed: Parsed | undefined;
  deleted: boolean;
  readonly slots: Map<ConfigSchema, SlotRecord>;
}

type Evaluation =
  | {
      ok: true;
      change: RawChange;
      parsed?: Parsed;
      /** What the handles are told with the swap (made with `parsed`). */
      meta?: ConfigMeta;
      values?: ReadonlyMap<SlotRecord, unknown>;
    }
  | {
      ok: false;
      change: RawChange;
      sha256: string;
      reason: string;
      valuePath: string;
      code: Rejection["code"];
    };

/** What the hub does after a batch: run handlers, publish refusals, save the snapshot. */
export interface ApplyOutcome {
  /**
   * The handles whose value changed, with the value each had before (`prev`): one entry per
   * schema slot (its handles shared the previous value), or per handle where the slot had none
   * and a handle ran on its own `default`.
   */
  readonly notifications: Notification[];
  readonly rejections: Rejection[];
  /** What the handles are told: every refused key that has handles, set members included. */
  readonly refused: ConfigRefusal[];
  /** Config key → revision for every put this batch made current. */
  readonly accepted: Record<string, number>;
  readonly snapshot: [string, SnapshotEntry][];
}

/** Handles told of one swap; see {@link ApplyOutcome.notifications}. */
export interface Notification {
  readonly handles: readonly HandleView[];
  readonly prev: unknown;
  readonly meta: ConfigMeta;
}

/** Result of attaching a schema to a key. */
export interface Attachment {
  readonly record: SlotRecord;
  /** Set when the key's current value fails this schema (the slot is then empty). */
  readonly refusal?: Rejection;
  /** True when the slot already existed (another handle with the same schema). */
  readonly shared: boolean;
}

/**
 * Every config key this connection knows, with its accepted value and, per schema, the parsed
 * and deep-frozen value its handles share. Decode, JSON parse and zod parse happen once per key
 * revision (and schema), however many handles there are. A keyed change nobody has opened is
 * kept undecoded until someone does.
 */
export class ConfigState {
  private readonly records = new Map<string, KeyRecord>();
  /** Evaluations of pending (scheduled) values, reused at their instant. */
  private readonly prepared = new WeakMap<RawChange, Evaluation>();
  /** STRONG candidates voted yes on, reused when their commit arrives. */
  private readonly candidates = new CheckedCandidates<SlotRecord>();

  constructor(
    private readonly applied: AppliedRegistry,
    private readonly logger: Logger,
  ) {}

  /**
   * Applies a batch. A change set (`set` with several keys) is all or nothing: one key failing
   * one schema refuses every key of it. A `load` is applied key by key; a complete one also
   * deletes keys it does not contain.
   */
  apply(batch: ChangeBatch): ApplyOutcome {
    const out: ApplyOutcome = {
      notifications: [],
      rejections: [],
      refused: [],
      accepted: {},
      snapshot: [],
    };
    const latest = new Map<string, RawChange>();
    for (const c of batch.changes) latest.set(c.key, c);
    if (batch.kind === "load" && batch.complete) {
      for (const rec of this.records.values()) {
        if (!latest.has(rec.key) && rec.change && !rec.deleted) {
          latest.set(rec.key, { ...rec.change, op: "delete", data: undefined });
        }
      }
    }
    const evals = [...latest.values()].map((c) => this.evaluation(c));
    const failed = evals.filter((e) => !e.ok);
    if (batch.kind === "set" && evals.length > 1 && failed.length > 0) {
      const why = failed.map((f) => f.change.key).join(", ");
      for (const e of evals)
        this.refuse(e, out, `change set ${batch.changeSetId} (${why} invalid)`);
      return out;
    }
    for (const e of evals) {
      if (e.ok) this.commit(e, out);
      else this.refuse(e, out);
    }
    return out;
  }

  /** Attaches a schema to a key (sharing an existing slot for the same schema object). */
  attach(key: string, schema: ConfigSchema): Attachment {
    const rec = this.record(key);
    const existing = rec.slots.get(schema);
    if (existing) return { record: existing, shared: true };
    const record: SlotRecord = {
      schema,
      slot: { value: undefined, meta: undefined, stale: false, deleted: rec.deleted },
      handles: new Set(),
    };
    rec.slots.set(schema, record);
    const c = rec.change;
    if (!c || c.op !== "put") return { record, shared: false };
    try {
      rec.parsed ??= this.parse(c);
    } catch (err) {
      this.markRefused(key, c.revision);
      const r = this.rejection(c, claimedSha(err), message(err), "", "syntax");
      return { record, shared: false, refusal: r };
    }
    const verdict = validate(schema, rec.parsed.json);
    if (!verdict.ok) {
      const r = this.rejection(c, rec.parsed.sha256, verdict.reason, verdict.valuePath, "schema");
      this.markRefused(key, c.revision);
      return { record, shared: false, refusal: r };
    }
    record.slot.value = verdict.value;
    record.slot.meta = metaOf(c, rec.parsed);
    record.slot.stale = c.origin === "snapshot";
    this.markApplied(key, c.revision, rec.parsed.sha256);
    return { record, shared: false };
  }

  /** Removes a schema attachment that never got a handle, or whose last handle closed. */
  detach(key: string, record: SlotRecord, handle?: HandleView): void {
    if (handle) record.handles.delete(handle);
    if (record.handles.size > 0) return;
    const rec = this.records.get(key);
    if (!rec) return;
    rec.slots.delete(record.schema);
    if (rec.slots.size === 0) this.applied.delete(key);
  }

  /** The entry a key's handles currently run, for the snapshot. */
  snapshotEntry(key: string): SnapshotEntry | undefined {
    const rec = this.records.get(key);
    if (!rec?.parsed || !rec.change || rec.change.origin !== "nats") return undefined;
    return { entry: rec.parsed.entry, revision: rec.change.revision };
  }

  /**
   * A STRONG write's candidate checked like a delivered value (sha256, JSON, every schema of the
   * key) without applying anything; undefined when no handle watches the key.
   */
  check(entry: ConfigEntry): CandidateVerdict {
    const rec = this.records.get(entry.key);
    if (!rec || rec.slots.size === 0) return undefined;
    const e = this.evaluate({ ...candidateChange(entry), entry });
    if (e.ok && e.parsed && e.values) {
      this.candidates.remember(entry.key, {
        sha256: e.parsed.sha256,
        json: e.parsed.json,
        values: e.values,
      });
    }
    return e.ok
      ? { ok: true }
      : { ok: false, reason: e.reason, valuePath: e.valuePath, code: e.code };
  }

  /**
   * Sets `slot.pending` of every schema of the key to what `change` would make current (a
   * scheduled value), or clears it (`change` undefined, or a schema refuses it: the refusal is
   * reported at the instant, when it would have been applied).
   */
  setPending(key: string, change: RawChange | undefined, activateAtMs: number): void {
    const rec = this.records.get(key);
    if (!rec) return;
    const e = change ? this.evaluate(change) : undefined;
    if (change && e?.ok) this.prepared.set(change, e);
    for (const s of rec.slots.values()) {
      const value = e?.ok ? e.values?.get(s) : undefined;
      s.slot.pending =
        change && value !== undefined
          ? Object.freeze({ value, revision: change.revision, activateAtMs })
          : undefined;
    }
    const ap = this.applied.get(key);
    if (ap) this.applied.set(key, { ...ap, pendingRevision: change?.revision });
  }

  /** Value of an opened key (its first schema's), for `kon.getConfig`. */
  current(key: string): unknown {
    for (const s of this.records.get(key)?.slots.values() ?? []) return s.slot.value;
    return undefined;
  }

  private record(key: string): KeyRecord {
    let rec = this.records.get(key);
    if (!rec) {
      rec = { key, change: undefined, parsed: undefined, deleted: false, slots: new Map() };
      this.records.set(key, rec);
    }
    return rec;
  }

  /**
   * A scheduled value's evaluation, done when it became pending, if it still covers every schema
   * of the key: at the instant only the swap is left to do.
   */
  private evaluation(c: RawChange): Evaluation {
    const e = this.prepared.get(c);
    if (!e) return this.evaluate(c);
    this.prepared.delete(c);
    const slots = this.records.get(c.key)?.slots;
    const covers = e.ok && e.values && slots && [...slots.values()].every((s) => e.values!.has(s));
    return covers ? e : this.evaluate(c);
  }

  private evaluate(c: RawChange): Evaluation {
    const rec = this.records.get(c.key);
    if (c.op === "delete" || !rec || rec.slots.size === 0) return { ok: true, change: c };
    let parsed: Parsed;
    try {
      const checked = verifiedEntry(c);
      const voted = this.candidates.take(c.key, checked.sha256, rec.slots.values());
      if (voted) {
        parsed = { ...checked, json: voted.json };
        return {
          ok: true,
          change: c,
          parsed,
          meta: metaOf(c, parsed),
          values: voted.values,
        };
      }
      parsed = { ...checked, json: jsonOf(checked.entry) };
    } catch (err) {
      return {
        ok: false,
        change: c,
        sha256: claimedSha(err),
        reason: message(err),
        valuePath: "",
        code: "syntax",
      };
    }
    const values = new Map<SlotRecord, unknown>();
    for (const s of rec.slots.values()) {
      const v = validate(s.schema, parsed.json);
      if (!v.ok) {
        return {
          ok: false,
          change: c,
          sha256: parsed.sha256,
          reason: v.reason,
          valuePath: v.valuePath,
          code: "schema",
        };
      }
      values.set(s, v.value);
    }
    return { ok: true, change: c, parsed, meta: metaOf(c, parsed), values };
  }

  private parse(c: RawChange): Parsed {
    const checked = verifiedEntry(c);
    return { ...checked, json: jsonOf(checked.entry) };
  }

  private commit(e: Evaluation & { ok: true }, out: ApplyOutcome): void {
    const c = e.change;
    const rec = this.records.get(c.key);
    if (c.op === "delete") {
      if (!rec) return;
      if (rec.slots.size === 0) {
        this.records.delete(c.key);
        return;
      }
      if (!rec.deleted) {
        this.logger.warn(
          `config key ${c.key} was deleted at its source (revision ${c.revision}); keeping its last value`,
        );
      }
      rec.deleted = true;
      for (const s of rec.slots.values()) {
        s.slot.deleted = true;
        if (c.origin !== "snapshot") s.slot.stale = false;
      }
      return;
    }
    const target = rec ?? this.record(c.key);
    this.settlePending(target, c.revision);
    target.change = c;
    target.parsed = e.parsed;
    target.deleted = false;
    out.accepted[c.key] = c.revision;
    if (!e.values || !e.parsed) return;
    const meta = e.meta ?? metaOf(c, e.parsed);
    for (const [s, value] of e.values) {
      const prev = s.slot.value;
      const changed = prev === undefined || s.slot.meta?.sha256 !== meta.sha256;
      if (changed && s.handles.size > 0) {
        if (prev !== undefined) out.notifications.push({ handles: [...s.handles], prev, meta });
        else
          for (const h of s.handles) out.notifications.push({ handles: [h], prev: h.value, meta });
      }
      if (changed) s.slot.value = value;
      s.slot.meta = meta;
      s.slot.stale = c.origin === "snapshot";
      s.slot.deleted = false;
    }
    this.markApplied(c.key, c.revision, meta.sha256);
    if (c.origin === "nats") {
      out.snapshot.push([c.key, { entry: e.parsed.entry, revision: c.revision }]);
    }
  }

  private refuse(e: Evaluation, out: ApplyOutcome, partOf?: string): void {
    const c = e.change;
    const rec = this.records.get(c.key);
    const running = this.applied.get(c.key)?.revision ?? 0;
    const watched = rec !== undefined && rec.slots.size > 0;
    if (rec) this.settlePending(rec, c.revision);
    if (watched) this.markRefused(c.key, c.revision);
    if (!e.ok) {
      const r = this.rejection(c, e.sha256, e.reason, e.valuePath, e.code);
      out.rejections.push(r);
      if (watched) out.refused.push(refusalOf(r, running));
      this.logger.warn(
        `refusing config ${c.key} revision ${c.revision}: ${e.reason}; keeping revision ${running}`,
      );
    } else if (partOf) {
      if (watched) {
        const r = this.rejection(c, e.parsed?.sha256 ?? "", partOf, "", "syntax");
        out.refused.push({ ...refusalOf(r, running), code: "change-set" });
      }
      this.logger.warn(
        `refusing config ${c.key} revision ${c.revision} with ${partOf}; keeping revision ${running}`,
      );
    }
  }

  /** The handles open on `key`, under every schema. */
  handlesOf(key: string): HandleView[] {
    const rec = this.records.get(key);
    return rec ? [...rec.slots.values()].flatMap((s) => [...s.handles]) : [];
  }

  private rejection(
    c: RawChange,
    sha256: string,
    reason: string,
    valuePath: string,
    code: Rejection["code"],
  ): Rejection {
    return {
      key: c.key,
      revision: c.revision,
      sha256,
      changeSetId: c.changeSetId,
      sourcePath: c.entry?.sourcePath ?? "",
      reason,
      valuePath,
      code,
    };
  }

  private markApplied(key: string, revision: number, sha256: string): void {
    if (this.applied.get(key)?.revision === revision) return;
    this.applied.set(key, { revision, sha256, appliedAtMs: Date.now() });
  }

  private markRefused(key: string, revision: number): void {
    const prev = this.applied.get(key) ?? { revision: 0, sha256: "", appliedAtMs: Date.now() };
    const next: AppliedRevision = { ...prev, rejectedRevision: revision };
    if (next.pendingRevision === revision) delete next.pendingRevision;
    this.applied.set(key, next);
  }

  /**
   * A scheduled value applied (or refused) at its instant is pending no more. Cleared here, in
   * the step that swaps it, rather than when its timer fired: the value never looks neither
   * pending nor current, and the registry is written once (markApplied's fresh entry or
   * markRefused drops `pendingRevision`).
   */
  private settlePending(rec: KeyRecord, revision: number): void {
    for (const s of rec.slots.values()) {
      if (s.slot.pending?.revision === revision) s.slot.pending = undefined;
    }
  }
}

/** A candidate as a change: never applied, only evaluated. */
function candidateChange(entry: ConfigEntry): RawChange {
  return {
    key: entry.key,
    revision: 0,
    op: "put",
    changeSetId: entry.changeSetId,
    changeSetSize: 1,
    origin: "nats",
  };
}

function metaOf(c: RawChange, p: Parsed): ConfigMeta {
  const e = p.entry;
  return Object.freeze({
    revision: c.revision,
    sha256: p.sha256,
    gitCommit: e.gitCommit,
    gitAuthor: e.gitAuthor,
    sourcePath: e.sourcePath,
    changeSetId: c.changeSetId || e.changeSetId,
    changeSetSize: c.changeSetSize > 1 ? c.changeSetSize : e.changeSetSize || 1,
    publishedBy: e.publishedBy,
    updatedAt: new Date(Number(e.updatedAtMs)),
    origin: c.origin,
  });
}

/** The public form of a refusal, as handles report it. */
export function refusalOf(r: Rejection, keptRevision: number): ConfigRefusal {
  return Object.freeze({ ...r, keptRevision });
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
