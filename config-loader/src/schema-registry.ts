import { jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import {
  JsonSchemaCache,
  SCHEMA_GRACE_MS,
  liveSchemaRecords,
  parseSchemaRecords,
  schemaRecordKey,
} from "@konorkestra/sdk/internal";
import type { CompiledJsonSchema, SchemaRecord, WireNames } from "@konorkestra/sdk/internal";
import type { RegisteredSchema, SchemaSource } from "./config-store";

interface Looked {
  schemas: RegisteredSchema[];
  /** When an older version's grace ends and the answer must be worked out again. */
  validUntilMs: number;
}

/**
 * {@link SchemaSource} reading `kon_schemas`: every live registration of a key (each service,
 * each version in its grace period), compiled once per content. A key's answer is reused until
 * the schemas stream moves (one stream info per group pass, instead of a direct get per key). A
 * registration that does not compile is logged once and ignored: a broken registration must not
 * block every config publish.
 */
export class KvSchemaRegistry implements SchemaSource {
  /** Compiled with the sdk's one JSON Schema rule (the admin's config API checks by it too). */
  private readonly compiled = new JsonSchemaCache();
  private readonly looked = new Map<string, Looked>();
  private lastSeq = -1;

  constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
    private readonly stream?: { nc: NatsConnection; names: WireNames },
    private readonly graceMs = SCHEMA_GRACE_MS,
  ) {}

  async refresh(): Promise<void> {
    if (!this.stream) return this.forget();
    const jsm = await jetstreamManager(this.stream.nc);
    const info = await jsm.streams.info(`KV_${this.stream.names.schemasBucket}`);
    if (info.state.last_seq !== this.lastSeq) {
      this.looked.clear();
      this.lastSeq = info.state.last_seq;
    }
  }

  forget(): void {
    this.looked.clear();
    this.lastSeq = -1;
  }

  async get(group: string, key: string): Promise<RegisteredSchema[]> {
    const name = schemaRecordKey(group, key);
    const now = Date.now();
    const hit = this.looked.get(name);
    if (hit && now < hit.validUntilMs) return hit.schemas;
    const looked = await this.lookUp(name, now);
    if (this.looked.size > 100_000) this.looked.clear();
    this.looked.set(name, looked);
    return looked.schemas;
  }

  private async lookUp(name: string, now: number): Promise<Looked> {
    const e = await this.kv.get(name);
    const none: Looked = { schemas: [], validUntilMs: Infinity };
    if (!e || e.operation !== "PUT" || e.value.length === 0) return none;
    let records: SchemaRecord[];
    try {
      records = parseSchemaRecords(e.string());
    } catch (err) {
      this.warnOnce(`${name}@${e.revision}`, () =>
        this.logger.warn(`ignoring registered schema ${name}: ${(err as Error).message}`),
      );
      return none;
    }
    const live = liveSchemaRecords(records, now, this.graceMs);
    const schemas: RegisteredSchema[] = [];
    let validUntilMs = Infinity;
    const newest = new Map<string, number>();
    for (const r of live) {
      newest.set(r.service, Math.max(newest.get(r.service) ?? 0, r.registeredAtMs));
    }
    for (const r of live) {
      const top = newest.get(r.service)!;
      if (r.registeredAtMs < top) validUntilMs = Math.min(validUntilMs, top + this.graceMs);
      const c = this.compile(name, r);
      if (!(c instanceof Error)) schemas.push({ ...c, service: r.service, revision: e.revision });
    }
    schemas.sort((a, b) => a.service.localeCompare(b.service) || a.id.localeCompare(b.id));
    return { schemas, validUntilMs };
  }

  private compile(name: string, r: SchemaRecord): CompiledJsonSchema | Error {
    const c = this.compiled.get(r.schema);
    if (c instanceof Error) {
      this.warnOnce(`compile:${name}:${r.service}:${c.message}`, () =>
        this.logger.warn(
          `ignoring the schema ${r.service || "?"} registered for ${name}: ${c.message}`,
        ),
      );
    }
    return c;
  }

  private readonly warned = new Set<string>();
  private warnOnce(id: string, warn: () => void): void {
    if (this.warned.has(id)) return;
    if (this.warned.size > 10_000) this.warned.clear();
    this.warned.add(id);
    warn();
  }
}
