/**
 * Weights from a URL, kept in the Cache API so a second visit loads them without the network.
 * The response body is read as a stream to report bytes as they arrive, gathered into a Blob
 * (which the safetensors reader then reads a tensor at a time), and stored under the URL.
 */

export const CACHE_NAME = "hybridc-weights-v1";

export interface Fetched {
  readonly blob: Blob;
  readonly fromCache: boolean;
  /** Why the weights were not kept (no Cache API, quota), when they were not. */
  readonly notCached?: string;
}

/** A fetch that failed for a reason the page should state as it is (no stack, no class name). */
export class FetchError extends Error {
  override name = "FetchError";
}

function openCache(): Promise<Cache | null> {
  // The Cache API exists in secure contexts (https, localhost) only.
  if (typeof caches === "undefined") return Promise.resolve(null);
  return caches.open(CACHE_NAME).catch(() => null);
}

/** `url`'s bytes, from the cache when it holds them; `onBytes(loaded, total)` as they arrive. */
export async function cachedFetch(url: string, onBytes: (loaded: number, total: number) => void, signal: AbortSignal): Promise<Fetched> {
  const cache = await openCache();
  const hit = await cache?.match(url);
  if (hit) {
    const blob = await hit.blob();
    onBytes(blob.size, blob.size);
    return { blob, fromCache: true };
  }
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    throw new FetchError(`could not fetch ${url}: ${e instanceof Error ? e.message : String(e)} (is the server reachable, and does it allow this page's origin (CORS)?)`);
  }
  if (!res.ok) throw new FetchError(`${url}: the server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`);
  const blob = await readBody(res, onBytes, signal);
  if (cache === null) return { blob, fromCache: false, notCached: "this page has no Cache API (it needs https or localhost)" };
  try {
    await cache.put(url, new Response(blob, { headers: { "content-type": "application/octet-stream", "content-length": String(blob.size) } }));
    return { blob, fromCache: false };
  } catch (e) {
    return { blob, fromCache: false, notCached: e instanceof Error ? e.message : String(e) };
  }
}

async function readBody(res: Response, onBytes: (loaded: number, total: number) => void, signal: AbortSignal): Promise<Blob> {
  // Content-Length counts compressed bytes when the server compresses: the total grows to what arrives.
  const declared = Number(res.headers.get("content-length") ?? 0);
  if (res.body === null) return res.blob();
  const reader = res.body.getReader();
  const parts: Uint8Array<ArrayBuffer>[] = [];
  let loaded = 0;
  onBytes(0, declared);
  try {
    for (;;) {
      signal.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      loaded += value.length;
      onBytes(loaded, Math.max(declared, loaded));
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    if (signal.aborted) throw signal.reason;
    throw new FetchError(`the download of ${res.url} broke off after ${loaded} bytes: ${e instanceof Error ? e.message : String(e)}`);
  }
  return new Blob(parts, { type: "application/octet-stream" });
}

/** Delete every cached weights file; how many there were. */
export async function forgetCache(): Promise<number> {
  const cache = await openCache();
  if (cache === null) return 0;
  const keys = await cache.keys();
  await caches.delete(CACHE_NAME);
  return keys.length;
}
