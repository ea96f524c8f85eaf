#!/usr/bin/env node
import { runCli } from "./program";

runCli(process.argv, { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`kon: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
