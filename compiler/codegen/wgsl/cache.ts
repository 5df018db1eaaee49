/**
 * `cache_write`: cache' = cache with row (pos + s) mod T replaced by x[s] (interp/kernels.ts; the
 * cache is a ring, runtime/artifact/kv-ring.ts):
 *
 *   cache'[t, ...] = x[j, ...]       j = (t - pos) mod T < S
 *   cache'[t, ...] = cache[t, ...]   otherwise
 *
 * cache [T, ...R] (a KV cache [T, Hkv, D]), x [S <= T, ...R]. In place (the result shares the
 * cache's buffer, as for a state slot) only the S new rows are written: one invocation per
 * element of x. Otherwise one invocation per element of cache', copying the rows not written.
 * The flat grid of wgsl/flat-kernel.ts. Schedule: workgroup size.
 */
import type { KernelLimits, KernelSpec } from "../kernel.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { lengthExpr } from "./common.ts";
import { emitFlat, flatSchedule, type FlatKernel, type FlatSchedule } from "./flat-kernel.ts";
import { u32, wgsl } from "./template.ts";

export interface CacheWriteProblem {
  readonly T: number;
  readonly cache: OperandView;
  readonly x: OperandView;
  readonly out: OperandView;
  /** Whether the result is the cache's own buffer. */
  readonly inPlace: boolean;
}

export function cacheWriteProblem(req: KernelRequest<"cache_write">): CacheWriteProblem {
  const [cache, x] = req.inputs as [OperandView, OperandView];
  const out = req.results[0]!;
  return { T: cache.shape[0] as number, cache, x, out, inPlace: out.buffer.key === cache.buffer.key };
}

export function emitCacheWrite(req: KernelRequest<"cache_write">, p: CacheWriteProblem, s: FlatSchedule): KernelSpec {
  const S = lengthExpr(p.x.shape[0]!);
  const T = u32(p.T);
  const kernel: FlatKernel = p.inPlace
    ? {
        dims: p.x.shape,
        uses: [
          { name: "x", view: p.x, write: false, vec4: false },
          { name: "cache", view: p.out, write: true, vec4: false },
        ],
        uniforms: ["pos"],
        math: [`cache[(pos + s) mod ${p.T}, ...] = x[s, ...]   (in place)`],
        item: "one element of x",
        decls: () => [],
        body: ([s0, ...rest], ops) => wgsl`let t = (params.pos + ${s0!}) % ${T};
${ops.get("cache").store(ops.get("x").load(s0!, ...rest), "t", ...rest)}`,
      }
    : {
        dims: p.out.shape,
        uses: [
          { name: "cache", view: p.cache, write: false, vec4: false },
          { name: "x", view: p.x, write: false, vec4: false },
          { name: "cache_out", view: p.out, write: true, vec4: false },
        ],
        uniforms: p.x.shape[0] === "L" ? ["L", "pos"] : ["pos"],
        math: [`cache_out[t, ...] = j < S ? x[j, ...] : cache[t, ...],  j = (t - pos) mod ${p.T}`],
        item: "one element of cache_out",
        decls: () => [],
        body: ([t, ...rest], ops) => {
          const [cache, x, out] = [ops.get("cache"), ops.get("x"), ops.get("cache_out")];
          return wgsl`let t = ${t!};
let j = (t + ${T} - params.pos % ${T}) % ${T};
if (j < ${S}) { ${out.store(x.load("j", ...rest), "t", ...rest)} }
else { ${out.store(cache.load("t", ...rest), "t", ...rest)} }`;
        },
      };
  return emitFlat(req, kernel, s);
}

export function generateCacheWrite(req: KernelRequest<"cache_write">, limits: KernelLimits, override: Partial<FlatSchedule> = {}): KernelSpec {
  return emitCacheWrite(req, cacheWriteProblem(req), { ...flatSchedule(limits), ...override });
}
