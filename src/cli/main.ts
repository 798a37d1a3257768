#!/usr/bin/env node
/** Entry point of the `ctrmeta` command. */
import { runCli } from "./program.js";

// A reader that stops early (`ctrmeta events | head`) closes the pipe: stop quietly,
// with exit code 0 instead of crashing on EPIPE.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(0);
});

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ctrmeta: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
