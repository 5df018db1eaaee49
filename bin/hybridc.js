#!/usr/bin/env node
// The `hybridc` executable: runs the TypeScript sources directly through tsx's loader, so
// `npx hybridc ...` works right after `npm ci` with no build step.
import { register as registerHooks } from "node:module";
import { register } from "tsx/esm/api";

registerHooks("./resolve-hooks.js", import.meta.url);
register();
let cli;
try {
  cli = await import("../compiler/cli/index.ts");
} catch (e) {
  process.stderr.write(`hybridc: internal error: cannot load the compiler: ${e instanceof Error ? e.message : String(e)}\n`);
  process.stderr.write("This is a bug in hybridc (or a broken install: try `npm ci`): please report this.\n");
  if (process.env.HYBRIDC_DEBUG === "1" && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.exit(3);
}
await cli.runCli();
