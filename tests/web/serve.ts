/**
 * A tiny static server for the built web app (tests/web): the files of a directory, plus extra
 * files held in memory (weights the test made), counting the requests for each path so a test
 * can tell a cached load from a network one. localhost is a secure context, which WebGPU and
 * the Cache API need.
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

export interface StaticServer {
  /** `http://localhost:PORT` */
  readonly origin: string;
  /** Requests for `path` so far. */
  hits(path: string): number;
  close(): Promise<void>;
}

export async function serveStatic(dir: string, extra: ReadonlyMap<string, Uint8Array> = new Map()): Promise<StaticServer> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname);
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const send = (status: number, type: string, body: Uint8Array | string) => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
      res.end(body);
    };
    const held = extra.get(path);
    if (held !== undefined) return send(200, "application/octet-stream", held);
    const file = normalize(join(dir, path === "/" ? "index.html" : path));
    if (!file.startsWith(normalize(dir))) return send(403, "text/plain", "forbidden");
    readFile(file).then(
      (bytes) => send(200, TYPES[extname(file)] ?? "application/octet-stream", bytes),
      () => send(404, "text/plain", "not found"),
    );
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    origin: `http://localhost:${(server.address() as AddressInfo).port}`,
    hits: (path) => hits.get(path) ?? 0,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
