"""Export a trained run for hybridc: the spec, the weights and the reference logits.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/train/export.py --run kjv

Reads runs/RUN/ckpt.pt and writes
  specs/kjv-byte.hyb                     the model as a commented .hyb spec (weights = "jamba")
  specs/kjv-byte.safetensors             every tensor in F16, under hybridc's names
  specs/kjv-byte.reference.json          prompts, greedy tokens, figures
  specs/kjv-byte.reference.safetensors   the reference logits (F32): p{i}.prefill [prompt bytes, 256]
                                         and p{i}.decode [32, 256]
The weights are rounded to F16 first and everything after (held-out bits per byte, reference
logits) is computed from the rounded values, so the files describe exactly the shipped model.
The reference logits are computed in float64: prefill of each prompt (the logits at every prompt
position), then 32 greedy decode steps (the byte with the largest logit is fed back; p{i}.decode[k]
are the logits after feeding greedy token k). `tokens` holds the 33 greedy bytes (the first from
the prefill's last position).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402
from model import Config, HybridLM, spec_text  # noqa: E402
from train import BLOCK, CONTEXT, bits_per_byte, corpus, sliding_windows, windows  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
# The reference uses the first three of these whose 33 greedy choices all lead the runner-up by at
# least MARGIN (a near tie could flip within the test's tolerance of 2e-3 and prove nothing).
CANDIDATES = [
    "In the beginning God created",
    "\nPsalms 23\n\n  1 The LORD is my shepherd;",
    "  12 And Jesus answered and said unto them,",
    "\nExodus 20\n\n  1 And God spake all these words, saying,",
    "  3 Blessed are the poor in spirit:",
    "  8 And the LORD said unto Moses,",
    "\nJohn 1\n\n  1 In the beginning was the Word,",
    "  16 For God so loved the world,",
]
STEPS = 32
MARGIN = 0.02


def load_run(run, window):
    ck = torch.load(os.path.join(HERE, "runs", run, "ckpt.pt"))
    fields = dict(ck["config"])
    fields["attn_layers"] = tuple(fields["attn_layers"])
    fields["window"] = window
    cfg = Config(**fields)
    model = HybridLM(cfg)
    model.load_state_dict(ck["model"])
    with torch.no_grad():                            # the shipped weights are F16
        for p in model.parameters():
            p.copy_(p.half().float())
    model.eval()
    return model, ck


@torch.no_grad()
def reference(model):
    """Float64 prefill and greedy decode logits for each prompt (a full forward per step)."""
    m64 = HybridLM(model.cfg).double()
    m64.load_state_dict(model.state_dict())
    m64.eval()
    out, arrays = [], {}
    for prompt in CANDIDATES:
        if len(out) == 3:
            break
        i = len(out)
        ids = list(prompt.encode())
        logits = m64(torch.tensor([ids]))[0]
        prefill = logits.numpy()
        tokens, decode, margins = [], [], []
        last = logits[-1]
        for k in range(STEPS + 1):
            top = torch.topk(last, 2).values
            margins.append(float(top[0] - top[1]))
            tokens.append(int(torch.argmax(last)))
            if k == STEPS:
                break
            last = m64(torch.tensor([ids + tokens]))[0, -1]
            decode.append(last.numpy())
        if min(margins) < MARGIN:
            print(f"skipped {prompt!r}: a greedy choice leads by only {min(margins):.4f}", flush=True)
            continue
        arrays[f"p{i}.prefill"] = prefill.astype(np.float32)
        arrays[f"p{i}.decode"] = np.stack(decode).astype(np.float32)
        out.append({"prompt": prompt, "tokens": tokens, "text": bytes(tokens).decode("utf-8", "replace"),
                    "min_top2_margin": min(margins)})
    return out, arrays


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", default="kjv")
    p.add_argument("--name", default="kjv-byte", help="file stem under specs/")
    p.add_argument("--held-out-windows", type=int, default=0, help="evaluate on this many held-out windows (0: all)")
    p.add_argument("--window", type=int, default=256, help="the attention window of the spec (the training length)")
    a = p.parse_args()
    torch.set_num_threads(1)
    model, ck = load_run(a.run, a.window)
    cfg = model.cfg
    args = ck["args"]
    params = sum(t.numel() for t in model.parameters())

    t = time.time()
    split = args.get("split", "tail")               # runs before --split were trained on the tail split
    train, held = corpus(split)
    seq = args["seq"]
    # the figure: every held-out byte scored once, each with at least CONTEXT bytes before it
    held_w, held_skip = sliding_windows(held, seq)
    if a.held_out_windows:
        held_w, held_skip = held_w[:a.held_out_windows], held_skip[:a.held_out_windows]
    held_bpb = bits_per_byte(model, held_w, held_skip)
    scored = int((seq - held_skip).sum())
    print(f"held-out: {held_bpb:.4f} bits/byte over {scored:,} bytes, {CONTEXT}+ bytes of context each ({time.time() - t:.0f} s)", flush=True)
    # the first run's measure, for comparison: non-overlapping windows, the first bytes of each with little context
    cold_w = torch.cat([windows(b, seq) for b in held])
    held_cold_bpb = bits_per_byte(model, cold_w)
    print(f"held-out, non-overlapping windows of {seq}: {held_cold_bpb:.4f} bits/byte", flush=True)
    # for comparison: as many blocks spread evenly over the training text (seen in training), scored alike
    starts = torch.linspace(0, len(train) - BLOCK, len(held)).long().tolist()
    train_w, train_skip = sliding_windows([train[s:s + BLOCK] for s in starts], seq)
    train_bpb = bits_per_byte(model, train_w, train_skip)
    print(f"training text: {train_bpb:.4f} bits/byte over {len(starts)} blocks of {BLOCK}", flush=True)

    specs = os.path.join(ROOT, "specs")
    stem = os.path.join(specs, a.name)
    tensors = {k: v.detach().numpy() for k, v in model.hybridc_tensors().items()}
    st_io.save(stem + ".safetensors", tensors, {"format": "pt", "source": "tools/train (hybridc)"}, dtype="F16")

    split_text = ("one block of 32 KiB in 20\n//   (229,376 bytes over both testaments; xz -9 spends 1.68 bits per byte on it given the rest)"
                  if split == "interleaved" else "the last 5%, Colossians 1:18 to Revelation")
    kinds = ", ".join("attn" if i in cfg.attn_layers else "ssm" for i in range(cfg.n_layers))
    header = f"""// A byte-level hybrid trained on the King James Bible: Mamba-2 layers with attention on one layer
// in four. Trained by tools/train (PyTorch on the CPU; see tools/train/README.md), weights in
// {a.name}.safetensors (F16), reference logits of the PyTorch model in {a.name}.reference.*.
//   {params:,} parameters, {ck["step"]:,} steps of {args["batch"]} x {args["seq"]} bytes ({ck["tokens"]:,} bytes seen)
//   bits per byte: {held_bpb:.3f} on held-out text, {train_bpb:.3f} on training text, every byte
//   scored with at least {CONTEXT} bytes of context; held out: {split_text}
// Expands to {cfg.n_layers} layers: [{kinds}].
// The attention window is the training length: each byte attends to the {cfg.window} bytes up to
// and including itself, so generation can run past {cfg.window} bytes as in training."""
    spec = spec_text(cfg, a.name.replace("-", "_"), header)
    with open(stem + ".hyb", "w") as f:
        f.write(spec)
    # hybridc's own formatter aligns the trailing comments (and proves the spec parses)
    subprocess.run(["node", "bin/hybridc.js", "fmt", "--write", stem + ".hyb"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)

    ref, arrays = reference(model)
    st_io.save(stem + ".reference.safetensors", arrays, {"computed_in": "float64"})
    with open(stem + ".reference.json", "w") as f:
        json.dump({
            "about": "Logits of the PyTorch model (tools/train/model.py) on the F16 weights of "
                     f"{a.name}.safetensors, computed in float64 by tools/train/export.py; the arrays are in "
                     f"{a.name}.reference.safetensors: p{{i}}.prefill [prompt bytes, 256] and p{{i}}.decode "
                     f"[{STEPS}, 256] (after feeding greedy token k). tokens: the {STEPS + 1} greedy bytes.",
            "spec": f"specs/{a.name}.hyb", "weights": f"specs/{a.name}.safetensors",
            "split": split, "held_out_bits_per_byte": round(held_bpb, 4), "held_out_context_bytes": CONTEXT,
            "held_out_bits_per_byte_windows": round(held_cold_bpb, 4), "train_text_bits_per_byte": round(train_bpb, 4), "parameters": params, "steps": ck["step"],
            "tokens_seen": ck["tokens"], "train_wall_minutes": round(ck["wall_min"], 1) if "wall_min" in ck else None,
            "train_cpu_minutes": round(ck["cpu_min"], 1) if "cpu_min" in ck else None,
            "prompts": ref,
        }, f, indent=1)
        f.write("\n")
    for r in ref:
        print(f"{r['prompt']!r} -> {r['text']!r} (min top-2 margin {r['min_top2_margin']:.3f})")


if __name__ == "__main__":
    main()
