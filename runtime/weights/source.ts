/**
 * ByteSource: ranged, asynchronous reads of a file's bytes, so a checkpoint is read one tensor at
 * a time and never held whole. Browser-safe sources live here (an in-memory array, a Blob or
 * File); the Node FileHandle source is in node.ts.
 */

export interface ByteSource {
  /** Total length in bytes. */
  readonly size: number;
  /**
   * Up to `length` bytes from `offset`; fewer only at the end of the data (readers treat a short
   * read as a truncated file).
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Release the underlying handle, if any. */
  close?(): Promise<void>;
}

/** A source over bytes already in memory (tests, fetched buffers). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
  };
}

/** A source over a Blob (a browser `File`, or a Node 20 Blob): each read is one `slice`. */
export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}
