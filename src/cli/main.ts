#!/usr/bin/env node
/** Entry point of the `ctrmeta` command. */
import { runCli } from "./program.js";

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ctrmeta: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
