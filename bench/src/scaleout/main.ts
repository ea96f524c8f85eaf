import { benchOptions } from "../bench-flags";
import { formatReport, problems, resultJson } from "./scaleout-report";
import { parseScaleoutOptions, USAGE } from "./scaleout-options";
import { runScaleout } from "./scaleout-run";

const out = (line: string): void => void process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  const o = benchOptions(parseScaleoutOptions, USAGE);
  if (typeof o === "number") return o;
  out(
    "bench:scaleout — simulated fleet -> NATS cluster (KON_HB) -> monitors (node.down) + analytics -> TimescaleDB",
  );
  const r = await runScaleout(o, out);
  out(`command: ${r.command.npm ?? r.command.node}`);
  if (r.command.npm) out(`         (${r.command.node})`);
  out(`load at end: ${r.loadAtEnd.toFixed(2)} (1 min); ${Math.round(r.durationS)} s`);
  for (const line of formatReport(r)) out(line);
  out(resultJson(r));
  return problems(r).length === 0 ? 0 : 3;
}

void main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `bench:scaleout failed: ${err instanceof Error ? err.stack : String(err)}\n`,
    );
    process.exit(1);
  },
);
