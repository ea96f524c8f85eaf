import { readGroupFiles } from "@konorkestra/sdk/internal";
import type {
  ParsedConfig,
  ReadCache,
  ScannedFile,
  SourceProblem,
} from "@konorkestra/sdk/internal";
import type { RegisteredSchema, SchemaSource } from "./config-store";
import { inChunks } from "./in-chunks";
import { locateValue } from "./value-locator";

export interface Candidate {
  key: string;
  sha256: string;
  file: ScannedFile;
  config: ParsedConfig;
  /** Every live schema of the key; the value met all of them. */
  schemas: RegisteredSchema[];
}

export interface Rejection {
  file: ScannedFile;
  key: string;
  problem: SourceProblem;
  fingerprint: string;
}

export interface Evaluation {
  candidates: Candidate[];
  rejections: Rejection[];
  protectedKeys: Set<string>;
}

/** Room for a ConfigEntry's fields other than the payload (ids, paths, git author). */
const ENTRY_OVERHEAD = 2048;

/**
 * Reads a group's files by the config-file rules (shared with the SDK's `file:` source), then
 * checks what the loader adds: every registered schema of the key and NATS max_payload. A bad
 * file becomes a rejection of its own; its key is protected (keeps its previous value).
 */
export class FileEvaluator {
  constructor(
    private readonly schemas: SchemaSource,
    private readonly maxValueBytes: number,
    /** Largest message the server accepts (bytes). */
    private readonly maxPayload: () => number,
    /** Parses of unchanged files are taken from here; without it every file is parsed. */
    private readonly cache?: ReadCache,
  ) {}

  /** The config-file rules (shared with the SDK's `file:` source), then schema and size. */
  async evaluate(group: string, files: ScannedFile[]): Promise<Evaluation> {
    const ev: Evaluation = { candidates: [], rejections: [], protectedKeys: new Set() };
    const reject = (
      file: ScannedFile,
      key: string,
      problem: SourceProblem,
      fingerprint: string,
    ): void => {
      if (key) ev.protectedKeys.add(key);
      ev.rejections.push({ file, key, problem, fingerprint });
    };
    const readings = await readGroupFiles(files, this.maxValueBytes, this.cache);
    await inChunks(readings, 32, async (r) => {
      if (r.kind === "refused") return reject(r.file, r.key, r.problem, r.fingerprint);
      if (r.kind === "vanished") {
        ev.protectedKeys.add(r.key);
        return;
      }
      const outcome = await this.check(group, r.file, r.key, r.config);
      if ("problem" in outcome) return reject(r.file, r.key, outcome.problem, outcome.fingerprint);
      ev.candidates.push(outcome);
    });
    return ev;
  }

  /** A parsed file against its key's registered schema and NATS max_payload. */
  private async check(
    group: string,
    f: ScannedFile,
    key: string,
    config: ParsedConfig,
  ): Promise<{ problem: SourceProblem; fingerprint: string } | Candidate> {
    const fingerprint = config.sha256;
    const schemas = await this.schemas.get(group, key);
    const refusals = schemas
      .map((schema) => ({ schema, violations: schema.validate(config.value) }))
      .filter((r) => r.violations.length > 0);
    if (refusals.length > 0) {
      const first = refusals[0]!.violations[0]!;
      // With several live schemas (services, versions) say which of them refused.
      const which = (s: RegisteredSchema): string =>
        schemas.length > 1
          ? `${s.service || "a service"} (schema ${s.id.slice(0, 12)})`
          : s.service || "its service";
      const reason = refusals
        .map(
          ({ schema, violations }) =>
            `does not match the schema registered by ${which(schema)}: ` +
            violations
              .slice(0, 5)
              .map((v) => `${v.path || "/"} ${v.message}`)
              .join("; "),
        )
        .join("; and ");
      const pos = locateValue(config.text, first.path);
      const problem: SourceProblem = { code: "schema", reason, ...pos, valuePath: first.path };
      const ids = refusals.map((r) => r.schema.id).join(",");
      return { problem, fingerprint: `${fingerprint}:${ids}` };
    }
    const room = this.maxPayload() - ENTRY_OVERHEAD - f.sourcePath.length - key.length;
    if (config.payload.length > room) {
      const reason = `value is ${config.payload.length} bytes; NATS max_payload leaves room for ${room}`;
      return { problem: { code: "size", reason, line: 0, column: 0 }, fingerprint };
    }
    return { key, sha256: config.sha256, file: f, config, schemas };
  }
}
