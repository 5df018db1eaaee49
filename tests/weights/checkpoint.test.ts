/**
 * Checkpoints over one file, over an index and its shards (in memory and on disk), and the
 * errors of each: a tensor the index lists but its shard lacks, a tensor in two shards, a
 * malformed index, missing files and directories.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { blobSource, bytesSource, encodeSafetensors, memoryCheckpoint, openSafetensors, openSharded, parseIndex, type ByteSource } from "../../runtime/weights/index.ts";
import { openCheckpoint } from "../../runtime/weights/node.ts";
import { counting, weightError } from "./helpers.ts";

const t = (name: string, values: number[], dtype: "F32" | "F16" | "BF16" = "F32") => ({ name, dtype, shape: [values.length], data: new Float32Array(values) });
const shard1 = encodeSafetensors([t("a", [1, 2]), t("b", [3], "BF16")], { format: "pt" });
const shard2 = encodeSafetensors([t("c", [4, 5, 6], "F16")]);
const index = (map: Record<string, string>) => JSON.stringify({ metadata: { total_size: 0 }, weight_map: map });
const IDX = "model.safetensors.index.json";

function shardOpener(files: Record<string, Uint8Array>) {
  const opened: string[] = [];
  const closed: string[] = [];
  const open = async (name: string): Promise<ByteSource> => {
    opened.push(name);
    const bytes = files[name];
    if (bytes === undefined) throw new Error(`test: no shard ${name}`);
    return { ...bytesSource(bytes), close: async () => void closed.push(name) };
  };
  return { open, opened, closed };
}

describe("sharded, in memory", () => {
  it("opens each shard once, reads from the right shard, records the shard of each tensor", async () => {
    const o = shardOpener({ "s1.safetensors": shard1, "s2.safetensors": shard2 });
    const c = await openSharded(index({ a: "s1.safetensors", c: "s2.safetensors", b: "s1.safetensors" }), IDX, o.open);
    expect(o.opened).toEqual(["s1.safetensors", "s2.safetensors"]);
    expect([...c.tensors]).toEqual([
      ["a", { dtype: "F32", shape: [2], file: "s1.safetensors" }],
      ["b", { dtype: "BF16", shape: [1], file: "s1.safetensors" }],
      ["c", { dtype: "F16", shape: [3], file: "s2.safetensors" }],
    ]);
    expect(c.label).toBe(IDX);
    expect(c.metadata).toEqual({ format: "pt" });
    expect([...(await c.read("c"))]).toEqual([4, 5, 6]);
    expect([...(await c.read("b"))]).toEqual([3]);
    await c.close();
    expect(o.closed.sort()).toEqual(["s1.safetensors", "s2.safetensors"]);
    expect(await weightError(c.read("a"))).toBe(`${IDX}: a: the checkpoint is closed`);
  });

  it("a tensor listed in the index but missing from its shard", async () => {
    const o = shardOpener({ "s1.safetensors": shard1, "s2.safetensors": shard2 });
    expect(await weightError(openSharded(index({ a: "s1.safetensors", c: "s1.safetensors" }), IDX, o.open))).toBe(`${IDX}: c: listed in shard s1.safetensors, which does not hold it`);
    expect(o.closed).toEqual(["s1.safetensors"]);
  });

  it("a tensor in two shards", async () => {
    const o = shardOpener({ "s1.safetensors": shard1, "s3.safetensors": encodeSafetensors([t("a", [9, 9]), t("x", [0])]) });
    expect(await weightError(openSharded(index({ a: "s1.safetensors", b: "s1.safetensors", x: "s3.safetensors" }), IDX, o.open))).toBe(`${IDX}: a: in two shards: s1.safetensors and s3.safetensors`);
    expect(o.closed.sort()).toEqual(["s1.safetensors", "s3.safetensors"]);
  });

  it("a broken shard is reported under the shard's name, and the shards opened are closed", async () => {
    const o = shardOpener({ "s1.safetensors": shard1, "s2.safetensors": new Uint8Array(3) });
    expect(await weightError(openSharded(index({ a: "s1.safetensors", c: "s2.safetensors" }), IDX, o.open))).toBe(
      "s2.safetensors: truncated: the file is 3 bytes long, and a safetensors file starts with an 8-byte header length",
    );
    expect(o.closed.sort()).toEqual(["s1.safetensors", "s2.safetensors"]);
  });

  it("each shard's header is read once, and a tensor read touches only its bytes", async () => {
    const srcs: Record<string, ReturnType<typeof counting>> = { "s1.safetensors": counting(shard1), "s2.safetensors": counting(shard2) };
    const c = await openSharded(index({ a: "s1.safetensors", c: "s2.safetensors" }), IDX, async (n) => srcs[n]!);
    expect(srcs["s1.safetensors"]!.reads.length).toBe(2);
    expect(srcs["s2.safetensors"]!.reads.length).toBe(2);
    await c.read("c");
    expect(srcs["s2.safetensors"]!.reads[2]![1]).toBe(6);
    expect(srcs["s1.safetensors"]!.reads.length).toBe(2);
  });

  it.each<[string, string, string]>([
    ["not JSON", "{weight_map", `${IDX}: not valid JSON (it begins "{weight_map")`],
    ["no weight_map", '{"metadata": {}}', `${IDX}: no "weight_map" object: a sharded checkpoint index maps each tensor name to its shard file`],
    ["empty weight_map", '{"weight_map": {}}', `${IDX}: "weight_map" is empty`],
    ["a shard that is not a string", '{"weight_map": {"a": 3}}', `${IDX}: a: the shard must be a file name, found 3`],
    ["a shard outside the directory", '{"weight_map": {"a": "../x.safetensors", "b": "/etc/x"}}', `${IDX}: a: shard "../x.safetensors" is not a path relative to the index\n${IDX}: b: shard "/etc/x" is not a path relative to the index`],
  ])("index: %s", async (_, text, message) => {
    expect(await weightError(() => parseIndex(text, IDX))).toBe(message);
  });
});

describe("other sources", () => {
  it("a Blob (a browser File) is read with ranged slices", async () => {
    const c = await openSafetensors(blobSource(new Blob([shard2])), "c.safetensors");
    expect([...(await c.read("c"))]).toEqual([4, 5, 6]);
  });

  it("a checkpoint over arrays in memory gives copies", async () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const c = memoryCheckpoint("mem", new Map([["w", { shape: [2, 3], data }]]));
    expect(c.tensors.get("w")).toEqual({ dtype: "F32", shape: [2, 3] });
    const r = await c.read("w");
    r[0] = 9;
    expect([...(await c.read("w"))]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await weightError(c.read("v"))).toBe("mem: v: no such tensor in the checkpoint");
  });
});

describe("openCheckpoint (node)", () => {
  const dir = mkdtempSync(join(tmpdir(), "hybridc-weights-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const single = join(dir, "single");
  const sharded = join(dir, "sharded");
  mkdirSync(single);
  mkdirSync(sharded);
  writeFileSync(join(single, "model.safetensors"), shard1);
  writeFileSync(join(sharded, "model-00001-of-00002.safetensors"), shard1);
  writeFileSync(join(sharded, "model-00002-of-00002.safetensors"), shard2);
  writeFileSync(join(sharded, IDX), index({ a: "model-00001-of-00002.safetensors", b: "model-00001-of-00002.safetensors", c: "model-00002-of-00002.safetensors" }));
  writeFileSync(join(sharded, "model.safetensors"), encodeSafetensors([t("decoy", [0])]));

  it("a .safetensors file, and a directory with model.safetensors", async () => {
    for (const p of [join(single, "model.safetensors"), single]) {
      const c = await openCheckpoint(p);
      expect(c.label).toBe(join(single, "model.safetensors"));
      expect([...c.tensors.keys()]).toEqual(["a", "b"]);
      expect([...(await c.read("a"))]).toEqual([1, 2]);
      await c.close();
    }
  });

  it("an index file, and a directory with an index (preferred over model.safetensors)", async () => {
    for (const p of [join(sharded, IDX), sharded]) {
      const c = await openCheckpoint(p);
      expect(c.label).toBe(join(sharded, IDX));
      expect(c.tensors.get("c")).toEqual({ dtype: "F16", shape: [3], file: join(sharded, "model-00002-of-00002.safetensors") });
      expect([...(await c.read("c"))]).toEqual([4, 5, 6]);
      await c.close();
    }
  });

  it("missing paths and shards are named", async () => {
    const nope = join(dir, "nope.safetensors");
    expect(await weightError(openCheckpoint(nope))).toBe(`${nope}: no such file or directory`);
    expect(await weightError(openCheckpoint(dir))).toBe(`${dir}: the directory holds neither ${IDX} nor model.safetensors`);
    const broken = join(dir, "broken");
    mkdirSync(broken);
    writeFileSync(join(broken, IDX), index({ a: "gone.safetensors" }));
    expect(await weightError(openCheckpoint(broken))).toBe(`${join(broken, "gone.safetensors")}: no such file or directory`);
  });

  it("a broken file is reported with its path", async () => {
    const p = join(dir, "bad.safetensors");
    writeFileSync(p, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
    expect(await weightError(openCheckpoint(p))).toBe(`${p}: the header is not valid JSON (it begins "{")`);
  });
});
