/** `hybridc build` (the optimized programs as IR text) and `hybridc inspect` (their cost figures). */
import type { ResolvedModel } from "../check/model.ts";
import { closestNames } from "../check/suggest.ts";
import type { SourceFile } from "../diag/source.ts";
import { compile, programs, stateSlots } from "../index.ts";
import { inspectJsonText, inspectModel, inspectText } from "../inspect.ts";
import { bindLength } from "../ir/bind-length.ts";
import type { Graph } from "../ir/graph.ts";
import { printGraph } from "../ir/print.ts";
import { PASSES } from "../passes/index.ts";
import { COLOR, COLOR_HELP, EXIT, HELP, UsageError, err, errorsCode, out, pretty, readAll, worst, type Command, type ExitCode, type Invocation } from "./shared.ts";

export const build: Command = {
  summary: "compile each model to its optimized prefill and decode programs (--emit ir)",
  help: `Usage: hybridc build [options] FILE...

Lowers each model of the files to its two programs, prefill (L tokens) and decode (one token),
runs the optimizer and prints the result in the stable IR text form. Diagnostics go to stderr;
nothing is printed when a file has errors.

Options:
--emit KIND            ir (default): the optimized IR. (wgsl is not implemented yet)
--dump-after PASS      print the programs as they are after PASS instead
                       (passes, in order: ${PASSES.map((p) => p.name).join(", ")})
--no-fuse              skip the fusion passes (the primitive-op programs, after DCE)
--length N             bind the sequence length L to N in the printed prefill program
${COLOR_HELP}
-h, --help             show this help

Exit status: 0 ok, 1 errors, 2 usage error or unreadable file.`,
  options: { emit: { type: "string", default: "ir" }, "dump-after": { type: "string" }, "no-fuse": { type: "boolean" }, length: { type: "string" }, ...COLOR, help: HELP },
  arity: [1, Infinity],
  run: runBuild,
};

export const inspect: Command = {
  summary: "print the cost of each model: dispatches, scratch bytes, bytes per decode token",
  help: `Usage: hybridc inspect [options] FILE...

Compiles each model and prints, from its buffer plan:
prefill  at length L: the number of dispatches and the scratch bytes (buffers reused by liveness)
decode   one token at position T = L: the number of dispatches and the bytes it moves:
         weightBytes (each weight read once; an embedding lookup reads one row),
         stateBytes (conv/SSM state read and written, KV rows written and the valid rows
         read), movedBytes (weights + state + every intermediate written and read back)
kernels  the decode program's kernels, in dispatch order
Views (reshape, projection slices) and constants computed from weights alone (such as
A = -exp(A_log), evaluated once at load time) launch no kernel.

Options:
--json                 print {"models":[{"name","prefill":{"length","dispatches","scratchBytes"},
                       "decode":{"dispatches","weightBytes","stateBytes","movedBytes"},
                       "kernels":[{"name","op"}]}]} on one line; kernels are the decode program's
--length N             prefill length and decode position T (default 1024)
--no-fuse              compile without the fusion passes
${COLOR_HELP}
-h, --help             show this help

Exit status: 0 ok, 1 errors, 2 usage error or unreadable file.`,
  options: { json: { type: "boolean" }, length: { type: "string", default: "1024" }, "no-fuse": { type: "boolean" }, ...COLOR, help: HELP },
  arity: [1, Infinity],
  run: runInspect,
};

interface Compiled {
  readonly model: ResolvedModel;
  readonly source: SourceFile;
}

/** Compiles every file, diagnostics to stderr; the models, or the exit code when any file failed. */
function compileAll(inv: Invocation): { models: Compiled[]; code: ExitCode } {
  const { sources, code } = readAll(inv.files);
  const models: Compiled[] = [];
  let result = code;
  for (const s of sources) {
    const r = compile(s.text, { path: s.path });
    err(pretty(r.diagnostics, inv.color));
    result = worst(result, errorsCode(r.diagnostics));
    models.push(...r.models.map((model) => ({ model, source: r.source })));
  }
  return { models, code: result };
}

/** `--length N`: a positive integer. */
function lengthOption(inv: Invocation, command: string): number | undefined {
  const raw = inv.values["length"] as string | undefined;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || !Number.isSafeInteger(n)) throw new UsageError(`--length must be a positive integer, got '${raw}'`, command);
  return n;
}

/** A length must leave room in the KV cache of every model with attention (decode writes row L). */
function checkFits(length: number, models: readonly Compiled[], command: string): void {
  for (const { model } of models) {
    if (length >= model.context && stateSlots(model).some((s) => s.kind === "k")) {
      throw new UsageError(`--length ${length} does not fit the KV cache of model '${model.name}' (context = ${model.context}); use a length below ${model.context}`, command);
    }
  }
}

function runBuild(inv: Invocation): ExitCode {
  const emit = inv.values["emit"] as string;
  if (emit === "wgsl") throw new UsageError("--emit wgsl is not implemented yet; only --emit ir is available", "build");
  if (emit !== "ir") throw new UsageError(`unknown --emit '${emit}' (expected ir)`, "build");
  const fuse = inv.values["no-fuse"] !== true;
  const dumpAfter = inv.values["dump-after"] as string | undefined;
  if (dumpAfter !== undefined) {
    const pass = PASSES.find((p) => p.name === dumpAfter);
    const names = PASSES.map((p) => p.name);
    if (pass === undefined) {
      const near = closestNames(dumpAfter, names);
      throw new UsageError(`unknown pass '${dumpAfter}'${near.length ? `; did you mean '${near[0]}'?` : ""} (passes: ${names.join(", ")})`, "build");
    }
    if (pass.fusion && !fuse) throw new UsageError(`--dump-after ${dumpAfter}: that pass is a fusion, which --no-fuse skips`, "build");
  }
  const length = lengthOption(inv, "build");
  const { models, code } = compileAll(inv);
  if (code !== EXIT.ok) return code;
  if (length !== undefined) checkFits(length, models, "build");
  const texts: string[] = [];
  for (const { model, source } of models) {
    const dumped = new Map<string, Graph>();
    const after = (p: { name: string }, g: Graph): void => void (p.name === dumpAfter && dumped.set(g.name, g));
    const { prefill, decode } = programs(model, { fuse, after });
    for (const g of [prefill, decode]) {
      const shown = dumped.get(g.name) ?? g;
      texts.push(printGraph(length === undefined ? shown : bindLength(shown, length), { source }));
    }
  }
  out(texts.join("\n"));
  return EXIT.ok;
}

function runInspect(inv: Invocation): ExitCode {
  const length = lengthOption(inv, "inspect")!;
  const { models, code } = compileAll(inv);
  if (code !== EXIT.ok) return code;
  checkFits(length, models, "inspect");
  const fuse = inv.values["no-fuse"] !== true;
  const inspected = models.map(({ model }) => inspectModel(model, { length, fuse }));
  out(inv.values["json"] ? inspectJsonText(inspected) : inspectText(inspected));
  return EXIT.ok;
}
