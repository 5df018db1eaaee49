/**
 * `hybridc build` (the optimized programs as IR text, or the compiled artifact: manifest + WGSL
 * files per model) and `hybridc inspect` (their cost figures).
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { artifactFiles, MANIFEST } from "../../runtime/artifact/files.ts";
import { BINDINGS_FILE, BINDINGS_HEADER } from "../bindings/names.ts";
import { ARTIFACT_FORMAT, DEFAULT_LIMITS, type KernelLimits, type ModelArtifact } from "../../runtime/artifact/types.ts";
import type { ResolvedModel } from "../check/model.ts";
import { closestNames } from "../check/suggest.ts";
import type { SourceFile } from "../diag/source.ts";
import { build as buildSpec, compile, programs, stateSlots } from "../index.ts";
import { inspectJsonText, inspectModel, inspectText } from "../inspect.ts";
import { bindLength } from "../ir/bind-length.ts";
import type { Graph } from "../ir/graph.ts";
import { printGraph } from "../ir/print.ts";
import { PASSES } from "../passes/index.ts";
import { COLOR, COLOR_HELP, EXIT, HELP, UsageError, err, errorsCode, makeDirOrFail, onPath, out, pretty, readAll, scanOption, targetOption, worst, writeFileOrFail, type Command, type ExitCode, type Invocation } from "./shared.ts";

export const build: Command = {
  help: `Usage: hybridc build [options] FILE... -o DIR
       hybridc build [options] FILE... [--emit ir]

Lowers each model of the files to its two programs, prefill (L tokens) and decode (one token),
and runs the optimizer. With -o DIR it generates the WebGPU kernels and writes, per model:
  DIR/<model>/manifest.json            everything the runtime needs: kernels in dispatch order
                                       (bindings, uniforms, grid, schedule, .hyb locations),
                                       buffers and their sizes (a * L + b elements; scratch shares
                                       arenas by liveness), outputs, state slots, inputs, the
                                       weight tensors, the limits and the hybridc version
  DIR/<model>/prefill/NN-<kernel>.wgsl one WGSL module per kernel, NN = dispatch order
  DIR/<model>/decode/NN-<kernel>.wgsl  (load-NN-<kernel>.wgsl: kernels run once at load time)
  DIR/<model>/index.ts                 with --emit ts: typed bindings (the artifact as \`as const\`
                                       data, WGSL inlined; a \`Weights\` type of every tensor name
                                       and shape; \`load(device, weights, options)\`)
The kernels fit the WebGPU default limits, so they run on every device (--limit sets one to
a given device's value; the manifest records the limits used). The output is
byte-identical from run to run. It never writes into a non-empty DIR that holds no earlier
build (a manifest.json of hybridc) unless --force is given; files of an earlier build of the
same model are replaced. Without -o it prints the programs in the stable IR text form.
Diagnostics go to stderr; nothing is printed or written when a file has errors.

Options:
-o, --out DIR          write the compiled artifact of each model under DIR/<model>/
--emit KIND            wgsl (the default with -o): manifest + WGSL files;
                       ts: the same, and the typed TypeScript bindings (index.ts);
                       ir (the default without -o): print the optimized IR
--force                write into DIR even when it is not empty and holds no earlier build
--limit NAME=N         generate for a device whose limit NAME is N instead of the WebGPU
                       default (repeatable), e.g. --limit maxStorageBuffersPerShaderStage=10;
                       NAME is one of
                       ${Object.keys(DEFAULT_LIMITS).join(", ")}
--dump-after PASS      (ir) print the programs as they are after PASS instead
                       (passes, in order: ${PASSES.map((p) => p.name).join(", ")})
--no-fuse              skip the fusion passes (the primitive-op programs, after DCE)
--target KIND          what the kernels' parallelism is sized for: cpu (default; a few cores, as
                       lavapipe) or gpu (thousands of invocations: chunk-parallel prefill scans,
                       decode GEMVs of 4 tiles x 32 lanes per workgroup); \`hybridc run\` and
                       loadSpec take it from the adapter
--scan ALGO            prefill scan kernels: sequential (the cpu default; one invocation per
                       state row walks all L tokens: small devices, lavapipe) or chunked-parallel
                       (the gpu default; per-chunk states, a scan over them, per-chunk outputs:
                       ceil(L / 64) times the invocations, for a discrete GPU)
--subgroups            decode GEMVs sum their lanes with subgroupAdd (the build then needs a
                       device with the \`subgroups\` feature; \`hybridc run\` and loadSpec use it
                       whenever the device has it)
--length N             (ir) bind the sequence length L to N in the printed prefill program
${COLOR_HELP}
-h, --help             show this help

Exit status: 0 ok, 1 errors (in the spec, or a kernel that cannot be generated), 2 usage error,
unreadable file, or a DIR that is not safe to write into or cannot be written.`,
  options: {
    out: { type: "string", short: "o" },
    emit: { type: "string" },
    force: { type: "boolean" },
    limit: { type: "string", multiple: true },
    "dump-after": { type: "string" },
    "no-fuse": { type: "boolean" },
    target: { type: "string" },
    scan: { type: "string" },
    subgroups: { type: "boolean" },
    length: { type: "string" },
    ...COLOR,
    help: HELP,
  },
  arity: [1, Infinity],
  run: runBuild,
};

export const inspect: Command = {
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
--scan ALGO            prefill scan kernels: sequential (default) or chunked-parallel
${COLOR_HELP}
-h, --help             show this help

Exit status: 0 ok, 1 errors, 2 usage error or unreadable file.`,
  options: { json: { type: "boolean" }, length: { type: "string", default: "1024" }, "no-fuse": { type: "boolean" }, scan: { type: "string" }, ...COLOR, help: HELP },
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

const MAX_LENGTH = 2 ** 31 - 1;

/** `--length N`: a positive integer a position can hold. */
function lengthOption(inv: Invocation, command: string): number | undefined {
  const raw = inv.values["length"] as string | undefined;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || !Number.isSafeInteger(n)) throw new UsageError(`--length must be a positive integer, got '${raw}'`, command);
  // Positions reach the kernels as i32: no call or sequence is longer.
  if (n > MAX_LENGTH) throw new UsageError(`--length must be at most ${MAX_LENGTH} (positions are 32-bit signed integers on the GPU), got '${raw}'`, command);
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

function runBuild(inv: Invocation): ExitCode | Promise<ExitCode> {
  const dir = inv.values["out"] as string | undefined;
  const emit = (inv.values["emit"] as string | undefined) ?? (dir === undefined ? "ir" : "wgsl");
  if (emit !== "ir" && emit !== "wgsl" && emit !== "ts") throw new UsageError(`unknown --emit '${emit}' (expected wgsl, ts or ir)`, "build");
  if (emit !== "ir") return runBuildWgsl(inv, dir, emit === "ts");
  if (dir !== undefined) throw new UsageError("--emit ir prints the programs; -o DIR writes the WGSL build (--emit wgsl)", "build");
  if (inv.values["force"]) throw new UsageError("--force only applies to -o DIR", "build");
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
    if (pass.when !== undefined && !pass.when(scanOption(inv, "build"))) throw new UsageError(`--dump-after ${dumpAfter}: that pass runs only with --scan chunked-parallel`, "build");
  }
  const length = lengthOption(inv, "build");
  const { models, code } = compileAll(inv);
  if (code !== EXIT.ok) return code;
  if (length !== undefined) checkFits(length, models, "build");
  const texts: string[] = [];
  for (const { model, source } of models) {
    const dumped = new Map<string, Graph>();
    const after = (p: { name: string }, g: Graph): void => void (p.name === dumpAfter && dumped.set(g.name, g));
    const { prefill, decode } = programs(model, { fuse, after, ...scanOption(inv, "build") });
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
  const inspected = models.map(({ model }) => inspectModel(model, { length, fuse, ...scanOption(inv, "inspect") }));
  out(inv.values["json"] ? inspectJsonText(inspected) : inspectText(inspected));
  return EXIT.ok;
}

/** `-o DIR` (`--emit wgsl` or `ts`): every model's artifact, then, when none failed, its files. */
function runBuildWgsl(inv: Invocation, dir: string | undefined, bindings: boolean): Promise<ExitCode> {
  if (dir === undefined) throw new UsageError(`--emit ${bindings ? "ts" : "wgsl"} writes files: give the output directory with -o DIR`, "build");
  for (const flag of ["dump-after", "length"]) {
    if (inv.values[flag] !== undefined) throw new UsageError(`--${flag} only applies to --emit ir (the printed programs)`, "build");
  }
  return writeBuilds(inv, () => dir, "build", bindings);
}

/** The directory `hybridc FILE.hyb` writes a file's build into when no -o is given: generated/ beside it. */
export const besideSpec = (path: string): string => join(dirname(path), "generated");

export const compileFiles: Command = {
  help: `Usage: hybridc FILE.hyb... [-o DIR] [options]

Like \`tsc file.ts\`: checks each file and, when it has no errors, writes the build of each of its
models, as \`hybridc build FILE -o DIR --emit ts\` does (DIR/<model>/manifest.json, one WGSL file
per kernel and the typed bindings DIR/<model>/index.ts), into generated/ beside the file, or into
DIR with -o. It never writes into a non-empty
directory that holds no earlier build, unless --force is given. Diagnostics go to stderr; the
paths written go to stdout.

Options:
-o, --out DIR          write every model under DIR/<model>/ instead of generated/ beside its file
--emit KIND            ts (the default): the build and its typed bindings; wgsl: the build alone
--force                write into a non-empty directory that holds no earlier build
--limit NAME=N         generate for a device whose limit NAME is N (see \`hybridc build --help\`)
--no-fuse              skip the fusion passes
--target KIND          cpu (default) or gpu: what the kernels' parallelism is sized for
--scan ALGO            prefill scan kernels: sequential (the cpu default) or chunked-parallel
--subgroups            decode GEMVs reduce with subgroupAdd (needs the \`subgroups\` feature)
${COLOR_HELP}
-h, --help             show this help

Exit status: 0 ok, 1 errors (in the spec, or a kernel that cannot be generated), 2 usage error,
unreadable file, or a directory that is not safe to write into or cannot be written.`,
  options: { out: { type: "string", short: "o" }, emit: { type: "string" }, force: { type: "boolean" }, limit: { type: "string", multiple: true }, "no-fuse": { type: "boolean" }, target: { type: "string" }, scan: { type: "string" }, subgroups: { type: "boolean" }, ...COLOR, help: HELP },
  arity: [1, Infinity],
  run: (inv) => {
    const dir = inv.values["out"] as string | undefined;
    const emit = (inv.values["emit"] as string | undefined) ?? "ts";
    if (emit !== "ts" && emit !== "wgsl") throw new UsageError(`unknown --emit '${emit}' (expected ts or wgsl)`, undefined);
    return writeBuilds(inv, (path) => dir ?? besideSpec(path), undefined, emit === "ts");
  },
};

/**
 * Builds every file, diagnostics to stderr; when none has errors, writes each model's files under
 * `outFor(spec path)/<model>/` (with `bindings`, its typed bindings too) and prints the manifests'
 * (and bindings') paths. Nothing is written when any file fails, and no directory is written that
 * the clobber guard refuses.
 */
async function writeBuilds(inv: Invocation, outFor: (path: string) => string, command: string | undefined, bindings = false): Promise<ExitCode> {
  const fuse = inv.values["no-fuse"] !== true;
  const limits = limitsOption(inv);
  for (const path of inv.files) {
    if (outFor(path) === "") throw new UsageError("-o needs a directory (an empty path would write into the current directory)", command);
  }
  const { sources, code } = readAll(inv.files);
  const built: { artifact: ModelArtifact; path: string; dir: string }[] = [];
  let result = code;
  for (const s of sources) {
    const r = buildSpec(s.text, { path: s.path, limits, fuse, ...targetOption(inv, command), ...scanOption(inv, command), ...(inv.values["subgroups"] === true ? { subgroups: true } : {}) });
    err(pretty(r.diagnostics, inv.color));
    result = worst(result, errorsCode(r.diagnostics));
    built.push(...r.artifacts.map((artifact) => ({ artifact, path: s.path, dir: outFor(s.path) })));
    // A turn of the event loop between files, so Ctrl-C stops a long build before it writes anything.
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (result !== EXIT.ok) return result;
  const byDir = new Map<string, Map<string, string>>();
  for (const { artifact, path, dir } of built) {
    const seen = byDir.get(dir) ?? new Map<string, string>();
    byDir.set(dir, seen);
    const other = seen.get(artifact.model);
    if (other !== undefined) throw new UsageError(`model '${artifact.model}' is defined in both ${other} and ${path}; a build directory holds one directory per model name`, command);
    seen.set(artifact.model, path);
  }
  for (const [dir, models] of byDir) {
    const refusal = onPath("read", dir, () => outDirRefusal(dir, [...models.keys()], inv.values["force"] === true));
    if (refusal !== null) throw new UsageError(refusal, command);
  }
  // ts-morph and prettier load only when bindings are written (the other commands never pay for them).
  const emitter = bindings ? await import("../bindings/emit.ts") : undefined;
  // A path the file system refuses (ENOTDIR, EISDIR, EACCES, ENOSPC) is a PathError: one line, exit 2.
  for (const { artifact, dir } of built) {
    const modelDir = join(dir, artifact.model);
    onPath("write", modelDir, () => removePreviousBuild(modelDir));
    for (const f of artifactFiles(artifact)) {
      const path = join(modelDir, f.path);
      makeDirOrFail(dirname(path));
      writeFileOrFail(path, f.text);
    }
    out(`${join(modelDir, MANIFEST)}\n`);
    if (emitter) {
      const path = join(modelDir, emitter.BINDINGS_FILE);
      writeFileOrFail(path, await emitter.bindingsText(artifact));
      out(`${path}\n`);
    }
  }
  return EXIT.ok;
}

/** DEFAULT_LIMITS with each `--limit NAME=N` applied. */
function limitsOption(inv: Invocation): KernelLimits {
  const limits: Record<string, number> = { ...DEFAULT_LIMITS };
  for (const raw of (inv.values["limit"] as string[] | undefined) ?? []) {
    const m = /^([A-Za-z]+)=(\d+)$/.exec(raw);
    if (!m) throw new UsageError(`--limit expects NAME=N, got '${raw}'`, "build");
    const [, name, value] = m as unknown as [string, string, string];
    if (!Object.hasOwn(DEFAULT_LIMITS, name)) {
      const near = closestNames(name, Object.keys(DEFAULT_LIMITS));
      throw new UsageError(`--limit: unknown limit '${name}'${near.length ? `; did you mean '${near[0]}'?` : ""}`, "build");
    }
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--limit ${name} must be a positive integer, got '${value}'`, "build");
    limits[name] = n;
  }
  return limits as unknown as KernelLimits;
}

/** A directory that an earlier `hybridc build` wrote: it holds our manifest.json. */
function isBuildDir(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(path, MANIFEST), "utf8")) as { format?: unknown }).format === ARTIFACT_FORMAT;
  } catch {
    return false;
  }
}

/**
 * Why `-o DIR` must not be written (null when it may): DIR is a file; or it is not empty and
 * holds no earlier build; or a model's own directory exists, is not empty, and is no earlier build.
 * `--force` allows the last two.
 */
function outDirRefusal(dir: string, models: readonly string[], force: boolean): string | null {
  if (!existsSync(dir)) return null;
  if (!statSync(dir).isDirectory()) return `-o ${dir}: not a directory`;
  if (force) return null;
  const entries = readdirSync(dir);
  const advice = "use --force to write into it anyway, or choose another directory";
  if (entries.length > 0 && !entries.some((e) => isBuildDir(join(dir, e)))) {
    return `refusing to write into ${dir}: it is not empty and holds no earlier build (no <model>/manifest.json written by hybridc); ${advice}`;
  }
  for (const m of models) {
    const md = join(dir, m);
    if (!existsSync(md)) continue;
    if (!statSync(md).isDirectory()) return `refusing to write ${md}/: ${md} is a file; ${advice}`;
    if (readdirSync(md).length > 0 && !isBuildDir(md)) return `refusing to write into ${md}: it is not empty and holds no manifest.json written by hybridc; ${advice}`;
  }
  return null;
}

/**
 * Deletes the files an earlier build of this model listed (only WGSL files under prefill/ and
 * decode/) and its manifest. Version 2 names a kernel's module `file` (programs at the top
 * level); version 1 named it `wgsl` (programs under `programs`).
 */
function removePreviousBuild(modelDir: string): void {
  if (!isBuildDir(modelDir)) return;
  type Kernels = { load?: { file?: unknown; wgsl?: unknown }[]; call?: { file?: unknown; wgsl?: unknown }[] };
  const m = JSON.parse(readFileSync(join(modelDir, MANIFEST), "utf8")) as { programs?: Record<string, Kernels>; prefill?: Kernels; decode?: Kernels };
  for (const p of [...Object.values(m.programs ?? {}), m.prefill ?? {}, m.decode ?? {}]) {
    for (const k of [...(p.load ?? []), ...(p.call ?? [])]) {
      const file = k.file ?? k.wgsl;
      if (typeof file === "string" && /^(prefill|decode)\/[^/\\]+\.wgsl$/.test(file) && !file.includes("..")) rmSync(join(modelDir, file), { force: true });
    }
  }
  rmSync(join(modelDir, MANIFEST), { force: true });
  // Bindings an earlier `--emit ts` wrote (known by their first line), so a build without them leaves none stale.
  const bindings = join(modelDir, BINDINGS_FILE);
  if (existsSync(bindings) && readFileSync(bindings, "utf8").startsWith(BINDINGS_HEADER)) rmSync(bindings);
}
