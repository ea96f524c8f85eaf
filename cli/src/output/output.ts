import Table from "cli-table3";
import pc from "picocolors";

/** picocolors' functions, on or off. */
export type Colors = ReturnType<typeof pc.createColors>;

/** How results are written: tables and sentences for people, JSON for scripts, or the bare minimum. */
export type OutputMode = "human" | "json" | "quiet";

/** A stream that may be a terminal. */
type MaybeTty = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** What a command hands to {@link Output.result}: the same result in each mode. */
export interface Result {
  /** The stable `--json` shape (documented in cli/README.md). */
  json: unknown;
  /** Writes the result for people. */
  human: (out: Output) => void;
  /** Lines for `--quiet` (ids, keys, a join key); nothing when absent. */
  quiet?: readonly string[];
}

/**
 * Everything a command writes goes through here: results on stdout in the chosen mode, notes and
 * progress on stderr (never mixed into what a script parses). Colour only on a terminal, and
 * never with NO_COLOR or --no-color.
 */
export class Output {
  readonly colors: Colors;

  constructor(
    readonly mode: OutputMode,
    private readonly stdout: MaybeTty,
    private readonly stderr: MaybeTty,
    color: boolean,
  ) {
    this.colors = pc.createColors(color);
  }

  /** Colour is on when stdout is a terminal, NO_COLOR is unset and --no-color was not given. */
  static colorWanted(stdout: MaybeTty, env: NodeJS.ProcessEnv, flag: boolean): boolean {
    return flag && stdout.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
  }

  get interactive(): boolean {
    return this.stderr.isTTY === true;
  }

  result(r: Result): void {
    if (this.mode === "json") this.json(r.json);
    else if (this.mode === "quiet") for (const l of r.quiet ?? []) this.stdout.write(`${l}\n`);
    else r.human(this);
  }

  json(value: unknown): void {
    this.stdout.write(JSON.stringify(value, null, 2) + "\n");
  }

  /** One JSON document per line, for streams (`--watch`, `--follow`). */
  jsonLine(value: unknown): void {
    this.stdout.write(JSON.stringify(value) + "\n");
  }

  line(text = ""): void {
    this.stdout.write(`${text}\n`);
  }

  /** A note for people on stderr (not in --quiet or --json). */
  note(text: string): void {
    if (this.mode === "human") this.stderr.write(`${text}\n`);
  }

  /** A warning on stderr, in every mode. */
  warn(text: string): void {
    this.stderr.write(`${this.colors.yellow("warning:")} ${text}\n`);
  }

  /** A borderless table, columns padded by two spaces (as kubectl and nats print them). */
  table(head: readonly string[], rows: readonly (readonly string[])[]): void {
    this.stdout.write(renderTable(head, rows, this.colors) + "\n");
  }

  /** Key: value lines, keys aligned. */
  fields(pairs: readonly (readonly [string, string])[]): void {
    const width = Math.max(0, ...pairs.map(([k]) => k.length));
    for (const [k, v] of pairs) this.line(`${this.colors.bold(k.padEnd(width))}  ${v}`);
  }

  /**
   * Shows that something long is under way, on stderr: on a terminal a line that counts the
   * seconds, elsewhere (and in --json) one line once it has taken a second; nothing in --quiet.
   */
  progress(text: string): { update(text: string): void; done(): void } {
    if (this.mode === "quiet") return { update: () => undefined, done: () => undefined };
    if (!this.interactive) {
      // In a log, say it once, and only when it is taking a while.
      let current = text;
      const late = setTimeout(() => this.stderr.write(`${current}…\n`), SLOW_MS);
      late.unref();
      return { update: (t) => (current = t), done: () => clearTimeout(late) };
    }
    const started = Date.now();
    let current = text;
    const draw = () => {
      const s = Math.floor((Date.now() - started) / 1000);
      this.stderr.write(`\r\x1b[2K${this.colors.dim(`${current} (${s} s)`)}`);
    };
    draw();
    const timer = setInterval(draw, 1000);
    timer.unref();
    return {
      update: (t) => {
        current = t;
        draw();
      },
      done: () => {
        clearInterval(timer);
        this.stderr.write("\r\x1b[2K");
      },
    };
  }
}

/** How long an operation runs before a non-terminal stderr is told about it. */
const SLOW_MS = 1000;

/** Renders rows under a bold head, no borders. Exported for golden tests. */
export function renderTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  colors: Colors = pc.createColors(false),
): string {
  const t = new Table({
    head: head.map((h) => colors.bold(h)),
    chars: {
      top: "",
      "top-mid": "",
      "top-left": "",
      "top-right": "",
      bottom: "",
      "bottom-mid": "",
      "bottom-left": "",
      "bottom-right": "",
      left: "",
      "left-mid": "",
      mid: "",
      "mid-mid": "",
      right: "",
      "right-mid": "",
      middle: "  ",
    },
    style: { "padding-left": 0, "padding-right": 0, head: [], border: [], compact: true },
  });
  for (const r of rows) t.push([...r]);
  // cli-table3 pads the last column too; people and golden files are better off without it.
  return t
    .toString()
    .split("\n")
    .map((l) => l.trimEnd())
    .join("\n");
}
