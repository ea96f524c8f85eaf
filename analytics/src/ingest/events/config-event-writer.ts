import type { WireNames } from "@konorkestra/sdk/internal";
import type { PoolClient } from "pg";
import type { ConfigProvenance, ConfigProvenanceLookup } from "../../model/config-change";
import { copyInto } from "../../pg/copy-text";
import { ensureStaging } from "../../pg/staging-table";
import type { BatchWriter, WriteResult } from "../batch-writer";
import { storeRejects } from "../ingest-rejects";
import type { RejectedRecord } from "../ingest-rejects";
import type { StreamRecord } from "../stream-record";
import { CONFIG_EVENT_COLUMNS, configEventLine, configEventRow } from "./config-event-row";
import type { ConfigEventRow } from "./config-event-row";

/** Options of {@link ConfigEventWriter}. */
export interface ConfigEventWriterOptions {
  /** Names on the wire: the subjects events are read from. */
  names: WireNames;
  /** Where author and git commit of published revisions come from; none: they stay NULL. */
  lookup?: ConfigProvenanceLookup;
  /**
   * Longest time a batch waits for provenance look-ups (they run inside its transaction);
   * rows not answered by then are stored without it. @default 3000
   */
  lookupBudgetMs?: number;
}

const STAGE = "cfg_evt_stage";
const STAGE_DDL = `
  time timestamptz, event_id text, group_name text, key text, kind text, revision bigint,
  sha256 text, change_set_id text, source_path text, node_id text, prepare_id text,
  error_file text, error_line integer, error_column integer, error_reason text, error_code text,
  error_value_path text, git_commit text, git_author text, published_by text, stream_seq bigint,
  received_at timestamptz, pending_revision bigint`;

const COLUMNS = CONFIG_EVENT_COLUMNS.join(", ");
const INSERT_SQL = `
WITH ins AS (
  INSERT INTO config_events (${COLUMNS})
  SELECT ${COLUMNS} FROM ${STAGE}
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT count(*)::integer AS inserted FROM ins`;

const CACHE_MAX = 2048;

/**
 * Writes config events from `KON_EVENTS` into `config_events`: COPY into a staging table, then
 * `INSERT … ON CONFLICT DO NOTHING` on (event_id, time), so a redelivered message or a second
 * instance never adds a row. Config events are few, so there is no fast path.
 *
 * ConfigEvent carries no author: for `published` events the writer reads the ConfigEntry at the
 * event's revision (bounded by a time budget, cached), so the history can say who changed what.
 */
export class ConfigEventWriter implements BatchWriter<ConfigEventRow> {
  readonly kind = "config-events";
  private readonly cache = new Map<string, ConfigProvenance>();
  private readonly budgetMs: number;

  constructor(private readonly opts: ConfigEventWriterOptions) {
    this.budgetMs = opts.lookupBudgetMs ?? 3000;
  }

  row(rec: StreamRecord): ConfigEventRow {
    return configEventRow(this.opts.names, rec);
  }

  async write(
    client: PoolClient,
    rows: ConfigEventRow[],
    rejects: RejectedRecord[],
  ): Promise<WriteResult> {
    await storeRejects(client, this.kind, rejects);
    if (rows.length === 0) return { inserted: 0 };
    await this.addProvenance(rows);
    await ensureStaging(client, STAGE, STAGE_DDL);
    await copyInto(client, STAGE, CONFIG_EVENT_COLUMNS, rows.map(configEventLine));
    const res = await client.query<{ inserted: number }>(INSERT_SQL);
    return { inserted: res.rows[0]?.inserted ?? 0 };
  }

  /** Never throws: a look-up that fails or is late leaves the row without provenance. */
  private async addProvenance(rows: ConfigEventRow[]): Promise<void> {
    const lookup = this.opts.lookup;
    if (!lookup) return;
    const wanted = rows.filter((r) => r.kind === "published" && r.revision && !r.provenance);
    if (wanted.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.budgetMs);
    });
    const all = Promise.all(
      wanted.map(async (r) => {
        const id = `${r.group}\u0000${r.key}\u0000${r.revision}`;
        let p = this.cache.get(id);
        if (!p) {
          p = await lookup.provenance(r.group, r.key, r.revision!).catch(() => undefined);
          // Only answers are cached: a failed look-up is tried again when the batch is retried.
          if (p) this.remember(id, p);
        }
        r.provenance = p;
      }),
    );
    await Promise.race([all, deadline]);
    clearTimeout(timer);
  }

  private remember(id: string, p: ConfigProvenance): void {
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(id, p);
  }
}
