import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Saves config edits into the loader's folder, as an editor or a git checkout would: each save
 * writes a temp file beside the folder and renames it over the key's file (an atomic save, so
 * the loader never reads half a file). Every content carries `v`, a counter that grows with
 * every save, so an older content can be told from a newer one whatever its revision.
 */
export class ConfigEditor {
  readonly keys: string[];
  /** Key → `v` of the last content saved. */
  readonly lastSaved = new Map<string, number>();
  saves = 0;
  private counter = 0;
  private turn = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly groupDir: string;

  constructor(
    configDir: string,
    private readonly tempDir: string,
    readonly group: string,
    keys: number,
  ) {
    this.keys = Array.from({ length: keys }, (_, i) => `app${i}`);
    this.groupDir = join(configDir, group);
    mkdirSync(this.groupDir, { recursive: true });
  }

  /** One save of every key. */
  saveAll(): void {
    for (const k of this.keys) this.save(k);
  }

  /** Saves one key every `everyMs`, the keys in turn. */
  start(everyMs: number): void {
    this.timer ??= setInterval(() => {
      this.save(this.keys[this.turn++ % this.keys.length]!);
    }, everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private save(key: string): void {
    const v = ++this.counter;
    const text = [
      `# saved by the fault drill (make chaos)`,
      `key: ${key}`,
      `v: ${v}`,
      `saved_at: "${new Date().toISOString()}"`,
      `limits:`,
      `  requests_per_s: ${100 + (v % 7)}`,
      `  burst: ${v % 13}`,
      ``,
    ].join("\n");
    const temp = join(this.tempDir, `${key}.yaml.${v}.tmp`);
    writeFileSync(temp, text);
    renameSync(temp, join(this.groupDir, `${key}.yaml`));
    this.lastSaved.set(key, v);
    this.saves++;
  }
}
