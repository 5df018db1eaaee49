/**
 * Reading an artifact back: `parseArtifact(json)` validates an artifact (an object, or its JSON
 * text) against the schema below and against itself (every binding names a buffer the program
 * lists, every weight lies in one weight buffer, ...), so a corrupt, hand-edited or truncated
 * artifact is an ArtifactError that names the field, never a confusing failure on the GPU.
 * The format and version are checked first: an artifact of another version is refused with what
 * to do about it.
 *
 * The schema is written with valibot, and `Parsed extends ModelArtifact` below is checked by the
 * type checker, so the validation cannot drift from the types in types.ts.
 */
import * as v from "valibot";
import { DTYPES, DTYPE_NAMES } from "./dtypes.ts";
import { quadUnit, quadsFit } from "./quads.ts";
import { ARTIFACT_FORMAT, ARTIFACT_VERSION, LIMIT_NAMES, UNIFORM_FIELDS, type KernelLimits, type ModelArtifact } from "./types.ts";

/** An artifact that cannot be run: not one, another version, or inconsistent. */
export class ArtifactError extends Error {
  override name = "ArtifactError";
}

const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const positive = v.pipe(v.number(), v.integer(), v.minValue(1));
const int = v.pipe(v.number(), v.integer());
const name = v.pipe(v.string(), v.minLength(1));
const dtype = v.picklist(DTYPE_NAMES);
const extent = v.object({ perL: int, fixed: int });
const shape = v.array(count);

const storageBinding = v.object({
  group: v.literal(0),
  binding: count,
  name,
  access: v.picklist(["read", "read_write"]),
  dtype,
  lanes: v.picklist([1, 4, 8]),
  packed: v.optional(v.literal(true)),
  role: v.picklist(["weight", "state", "scratch", "io"]),
  buffer: name,
  elements: extent,
  window: v.optional(v.object({ offset: count, elements: positive, of: name })),
});
const uniformBinding = v.object({ group: v.literal(0), binding: count, name: v.literal("params"), access: v.literal("uniform"), role: v.literal("uniform") });

const kernel = v.object({
  name,
  op: name,
  node: count,
  spans: v.array(v.object({ start: count, end: count })),
  locations: v.array(v.string()),
  wgsl: v.pipe(v.string(), v.minLength(1)),
  entryPoint: v.literal("main"),
  workgroupSize: positive,
  bindings: v.array(v.variant("access", [storageBinding, uniformBinding])),
  uniforms: v.object({ fields: v.array(v.picklist(UNIFORM_FIELDS)) }),
  dispatch: v.object({ lTile: v.nullable(positive), times: count }),
  schedule: v.record(v.string(), v.number()),
  features: v.optional(v.array(v.string())),
});

const program = v.object({
  name,
  load: v.array(kernel),
  call: v.array(kernel),
  buffers: v.array(v.object({ key: name, kind: v.picklist(["weight", "state", "const", "input", "output", "arena"]), dtype, elements: extent })),
  scratch: v.record(v.string(), name),
  outputs: v.array(v.object({ name, buffer: name, dtype, offset: extent, strides: v.array(extent), shape: v.array(v.union([count, v.literal("L")])) })),
  state: v.array(v.object({ name, dtype, shape })),
  stateCopies: v.array(name),
  inputs: v.array(v.object({ name, role: v.picklist(["tokens", "pos"]), buffer: v.nullable(name), dtype })),
});

const init = v.variant("kind", [
  v.object({ kind: v.literal("const"), value: v.number() }),
  v.object({ kind: v.literal("normal"), std: v.pipe(v.number(), v.minValue(0)) }),
  v.object({ kind: v.literal("uniform"), bound: v.pipe(v.number(), v.minValue(0)) }),
  v.object({ kind: v.literal("dt_bias"), dtMin: v.pipe(v.number(), v.gtValue(0)), dtMax: v.pipe(v.number(), v.gtValue(0)) }),
  v.object({ kind: v.literal("a_log_rows") }),
  v.object({ kind: v.literal("a_log_heads"), aMax: v.pipe(v.number(), v.minValue(1)) }),
]);

const limits = v.object(Object.fromEntries(LIMIT_NAMES.map((n) => [n, positive])) as Record<keyof KernelLimits, typeof positive>);

const artifact = v.object({
  format: v.literal(ARTIFACT_FORMAT),
  version: v.literal(ARTIFACT_VERSION),
  hybridc: v.string(),
  source: v.string(),
  model: name,
  vocab: positive,
  context: positive,
  attention: v.array(v.nullable(positive)),
  weightsScheme: name,
  tied: v.boolean(),
  limits,
  features: v.array(v.string()),
  weights: v.array(v.object({ name, shape, dtype, init })),
  weightBuffers: v.array(v.object({ key: name, dtype, elements: count, tensors: v.array(v.object({ name, offset: count, shape, quads: v.optional(v.literal(true)) })) })),
  prefill: program,
  decode: program,
});

type Parsed = v.InferOutput<typeof artifact>;
// The schema produces ModelArtifacts: a field added to types.ts and not validated here fails to compile.
const produces = (p: Parsed): ModelArtifact => p;
void produces;

/** Artifacts this module returned: validated once, never again. */
const validated = new WeakSet<object>();

/** `input` when parseArtifact already returned it, else parseArtifact(input). */
export function validArtifact(input: unknown, label?: string): ModelArtifact {
  if (typeof input === "object" && input !== null && validated.has(input)) return input as ModelArtifact;
  return parseArtifact(input, label);
}

/** An artifact (object or JSON text) validated; an ArtifactError says what is wrong and where. */
export function parseArtifact(input: unknown, label = "artifact"): ModelArtifact {
  let value = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new ArtifactError(`${label}: not JSON (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  checkArtifactHeader(value, label);
  const r = v.safeParse(artifact, value);
  if (!r.success) {
    const shown = r.issues.slice(0, 5).map((i) => `  ${v.getDotPath(i) ?? "(top level)"}: ${i.message}`);
    const more = r.issues.length > 5 ? [`  ... and ${r.issues.length - 5} more`] : [];
    throw new ArtifactError(`${label} is corrupt:\n${[...shown, ...more].join("\n")}`);
  }
  const a = r.output as ModelArtifact;
  const problems = consistency(a);
  if (problems.length > 0) throw new ArtifactError(`${label} is inconsistent:\n${problems.slice(0, 5).map((p) => `  ${p}`).join("\n")}`);
  validated.add(a);
  return a;
}

/** The format and version, before anything else: another version is refused with advice. */
export function checkArtifactHeader(value: unknown, label: string): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ArtifactError(`${label}: not a hybridc artifact (expected a JSON object)`);
  const { format, version, hybridc } = value as { format?: unknown; version?: unknown; hybridc?: unknown };
  if (format !== ARTIFACT_FORMAT) throw new ArtifactError(`${label}: not a hybridc artifact (format ${JSON.stringify(format)}, expected "${ARTIFACT_FORMAT}")`);
  if (version !== ARTIFACT_VERSION) {
    const by = typeof hybridc === "string" ? ` (built by hybridc ${hybridc})` : "";
    throw new ArtifactError(`${label} has format version ${JSON.stringify(version)}${by}; this runtime reads version ${ARTIFACT_VERSION}: rebuild it with this hybridc (\`hybridc build FILE.hyb -o DIR\`)`);
  }
}

/** References inside the artifact that must hold for it to run. */
function consistency(a: ModelArtifact): string[] {
  const problems: string[] = [];
  const weights = new Map(a.weights.map((w) => [w.name, w]));
  const placed = new Set<string>();
  for (const b of a.weightBuffers) {
    for (const t of b.tensors) {
      const w = weights.get(t.name);
      if (w === undefined) problems.push(`weight buffer ${b.key} holds ${t.name}, which is not a weight of the model`);
      else if (w.shape.join(",") !== t.shape.join(",")) problems.push(`weight buffer ${b.key} holds ${t.name} as [${t.shape.join(", ")}], the weight is [${w.shape.join(", ")}]`);
      else if (b.dtype !== w.dtype) problems.push(`weight buffer ${b.key} is ${b.dtype}, its tensor ${t.name} is ${w.dtype}`);
      else if (t.quads && !quadsFit(t.shape, b.dtype)) problems.push(`weight ${t.name} [${t.shape.join(", ")}] is stored in quads, which need 4 rows | its rows and ${quadUnit(b.dtype)} | its row length`);
      if (placed.has(t.name)) problems.push(`weight ${t.name} is in two weight buffers`);
      placed.add(t.name);
      const size = t.shape.reduce((x, y) => x * y, 1);
      if (t.offset + size > b.elements) problems.push(`weight ${t.name} ends at element ${t.offset + size}, past its buffer ${b.key} (${b.elements} elements)`);
    }
  }
  for (const w of a.weights) if (!placed.has(w.name)) problems.push(`weight ${w.name} lies in no weight buffer`);
  const weightKeys = new Set(a.weightBuffers.map((b) => b.key));
  for (const p of [a.prefill, a.decode]) {
    const keys = new Map(p.buffers.map((b) => [b.key, b]));
    for (const [key, arena] of Object.entries(p.scratch)) {
      if (keys.get(arena)?.kind !== "arena") problems.push(`${p.name}: scratch ${key} lives in ${arena}, which is no arena buffer of the program`);
    }
    for (const b of p.buffers) {
      if (b.kind === "weight" && !weightKeys.has(b.key)) problems.push(`${p.name}: buffer ${b.key} is no weight buffer of the model`);
    }
    for (const k of [...p.load, ...p.call]) {
      for (const b of k.bindings) {
        if (b.access === "uniform") continue;
        if (!keys.has(b.buffer) && p.scratch[b.buffer] === undefined) problems.push(`${p.name}: kernel ${k.name} binds ${b.buffer}, which the program does not list`);
        if (b.packed && DTYPES[b.dtype].packed === null) problems.push(`${p.name}: kernel ${k.name} binds ${b.buffer} packed, but ${b.dtype} has no packed form`);
      }
    }
    for (const o of p.outputs) if (!keys.has(o.buffer) && p.scratch[o.buffer] === undefined) problems.push(`${p.name}: output ${o.name} lies in ${o.buffer}, which the program does not list`);
    const outputs = new Set(p.outputs.map((o) => o.name));
    const slots = new Set(p.state.map((s) => s.name));
    for (const s of p.stateCopies) if (!outputs.has(s) || !slots.has(s)) problems.push(`${p.name}: state copy ${s} is not both an output and a state slot`);
    if (!outputs.has("logits")) problems.push(`${p.name}: no logits output`);
    if (!p.inputs.some((i) => i.role === "tokens")) problems.push(`${p.name}: no tokens input`);
  }
  return problems;
}
