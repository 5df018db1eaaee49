/**
 * The page's URL parameters, for automation and shareable links:
 *   ?spec=NAME&init=random&seed=S&prompt=TEXT&maxTokens=N&temperature=T[&topK=K&topP=P]
 *   ?spec=NAME&init=url&url=WEIGHTS_URL&...          weights fetched (and cached) from a URL
 *   ?spec=NAME&init=trained&...                      the weights the app ships for a trained model
 * With `spec` the page generates at once; temperature 0 is greedy. Numbers are plain decimals,
 * as the CLI takes them (`16`, `0.8`; not `0x10` or `1e2`). `loseDevice=N` destroys the GPU device
 * after N tokens, to show (and test) what the page does when a device is lost.
 */
import type { RunRequest } from "./protocol.ts";

export const DEFAULTS = { prompt: "The state space ", maxTokens: 64, temperature: 0.8, topK: 40, topP: 1, seed: 1 } as const;

export type ParsedParams = { readonly ok: true; readonly run: RunRequest | null } | { readonly ok: false; readonly message: string };

const INTEGER = /^\d+$/;
const DECIMAL = /^(\d+\.?\d*|\.\d+)$/;

class ParamError extends Error {}

function integer(q: URLSearchParams, name: string, fallback: number, min = 0): number {
  const v = q.get(name);
  if (v === null) return fallback;
  const n = Number(v);
  if (!INTEGER.test(v) || !Number.isSafeInteger(n) || n < min) throw new ParamError(`URL parameter ${name}=${v}: expected a whole number >= ${min}`);
  return n;
}

function decimal(q: URLSearchParams, name: string, fallback: number, max = Infinity): number {
  const v = q.get(name);
  if (v === null) return fallback;
  const n = Number(v);
  if (!DECIMAL.test(v) || n > max) throw new ParamError(`URL parameter ${name}=${v}: expected a plain decimal number${max < Infinity ? ` from 0 to ${max}` : " >= 0"}`);
  return n;
}

/** The run the URL asks for (null without `spec`), or the first problem with it. `base` resolves a relative weights URL. */
export function parseParams(search: string, base: string): ParsedParams {
  const q = new URLSearchParams(search);
  const spec = q.get("spec");
  if (spec === null) return { ok: true, run: null };
  try {
    if (spec === "") throw new ParamError("URL parameter spec is empty: name a model, e.g. spec=samba-style");
    const url = q.get("url");
    const init = q.get("init") ?? (url === null ? "random" : "url");
    const seed = integer(q, "seed", DEFAULTS.seed);
    let weights: RunRequest["weights"];
    if (init === "random") weights = { kind: "random", seed };
    else if (init === "trained") weights = { kind: "trained" };
    else if (init === "url") {
      if (url === null || url === "") throw new ParamError("URL parameter init=url needs url=WEIGHTS_URL (a .safetensors file)");
      weights = { kind: "url", url: new URL(url, base).href };
    } else throw new ParamError(`URL parameter init=${init}: expected random, url or trained (a local file cannot be named in a URL)`);
    const request: RunRequest = {
      spec,
      weights,
      prompt: q.get("prompt") ?? DEFAULTS.prompt,
      maxTokens: integer(q, "maxTokens", DEFAULTS.maxTokens),
      temperature: decimal(q, "temperature", DEFAULTS.temperature),
      topK: integer(q, "topK", DEFAULTS.topK),
      topP: decimal(q, "topP", DEFAULTS.topP, 1),
      seed,
      ...(q.has("loseDevice") ? { loseDeviceAfter: integer(q, "loseDevice", 0, 1) } : {}),
    };
    return { ok: true, run: request };
  } catch (e) {
    if (e instanceof ParamError) return { ok: false, message: e.message };
    throw e;
  }
}
