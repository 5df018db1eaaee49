"""Train the byte-level hybrid (model.py) on the King James Bible, on the CPU.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/train/train.py --run kjv --steps 4000

The corpus is `bible -l100000 gen1:1-rev22:21` (Debian's bible-kjv with bible-kjv-text): one verse
per line under chapter headings, 4,298,239 bytes. One block of 32 KiB in 20 is held out. Each step
draws `batch` windows of `seq + 1` bytes at random offsets of the training part (a seeded
generator); the learning rate warms up linearly, then follows a cosine to `min_lr_frac` of its
peak at `steps`. Writes into runs/RUN/: log.tsv (the loss curve), ckpt.pt (every --ckpt-every
steps and at the end) and config.json.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, HybridLM  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HELD_OUT_EVERY = 20      # the interleaved split: block i is held out when i % 20 == 10 (5% of the text)
BLOCK = 32768            # bytes per block (about 13 chapters)
CONTEXT = 128            # held-out evaluation: every scored byte sees at least this many bytes before it


def corpus_bytes():
    """The KJV text as bytes (cached in runs/kjv.txt)."""
    path = os.path.join(HERE, "runs", "kjv.txt")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        text = subprocess.run(["bible", "-l100000", "gen1:1-rev22:21"], check=True, capture_output=True).stdout
        with open(path + ".tmp", "wb") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    return np.frombuffer(open(path, "rb").read(), dtype=np.uint8)


def corpus(split="interleaved"):
    """(training text, [held-out blocks]) as int64 tensors.

    interleaved: the text in blocks of BLOCK bytes; every HELD_OUT_EVERY-th block (from the 11th) is
    held out, so the held-out text spreads over both testaments (7 blocks, 229,376 bytes), and the
    training text is the other blocks joined (a window may span a join: 6 places in 4 MB).
    tail: the last 5% (Colossians 1:18 to Revelation), the split of the first shipped run.
    """
    data = corpus_bytes()
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a).astype(np.int64))  # noqa: E731
    if split == "tail":
        cut = int(len(data) * 0.95)
        return t(data[:cut]), [t(data[cut:])]
    n = (len(data) + BLOCK - 1) // BLOCK
    held = [i for i in range(n) if i % HELD_OUT_EVERY == HELD_OUT_EVERY // 2]
    train = np.concatenate([data[i * BLOCK:(i + 1) * BLOCK] for i in range(n) if i not in held])
    return t(train), [t(data[i * BLOCK:(i + 1) * BLOCK]) for i in held]


def windows(data, seq):
    """Non-overlapping windows of seq + 1 bytes covering `data` (consecutive windows share one byte)."""
    n = (len(data) - 1) // seq
    return torch.stack([data[i * seq:i * seq + seq + 1] for i in range(n)])


def sliding_windows(blocks, seq, context=CONTEXT):
    """Windows of seq + 1 bytes over each block at a stride of seq - context, and per window the
    number of leading predictions not scored: every byte of a block after its first is scored
    exactly once, with at least `context` bytes before it in its window (all of them in the
    block's first window). Returns (windows [n, seq + 1], skip [n])."""
    wins, skip = [], []
    for b in blocks:
        covered = 0                                   # targets 1..covered of this block are scored
        start = 0
        while covered < len(b) - 1:
            start = min(start, len(b) - seq - 1)
            wins.append(b[start:start + seq + 1])
            skip.append(covered - start)
            covered = start + seq
            start += seq - context
    return torch.stack(wins), torch.tensor(skip)


@torch.no_grad()
def bits_per_byte(model, wins, skip=None, batch=32):
    """Mean bits per scored byte over the windows (each byte predicted from the ones before it in
    its window; the first skip[i] predictions of window i are not scored)."""
    model.eval()
    total, count = 0.0, 0
    seq = wins.shape[1] - 1
    for i in range(0, len(wins), batch):
        w = wins[i:i + batch]
        logits = model(w[:, :-1])
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="none").view(len(w), seq)
        if skip is not None:
            ce = ce * (torch.arange(seq)[None, :] >= skip[i:i + batch][:, None])
            count += int((seq - skip[i:i + batch]).sum())
        else:
            count += ce.numel()
        total += ce.sum().item()
    model.train()
    return total / count / math.log(2)


def make_config(a):
    return Config(d_model=a.d_model, n_layers=a.layers, attn_layers=tuple(int(x) for x in a.attn.split(",") if x != ""),
                  mlp_hidden=a.mlp, d_state=a.d_state, headdim=a.headdim, heads=a.heads, kv_heads=a.kv_heads, chunk=a.chunk)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="output folder name under tools/train/runs/")
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--d-model", type=int, default=192)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--attn", default="2", help="comma-separated indices of the attention layers")
    p.add_argument("--mlp", type=int, default=0, help="SwiGLU hidden size after every mixer (0: none)")
    p.add_argument("--d-state", type=int, default=64)
    p.add_argument("--headdim", type=int, default=32)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--kv-heads", type=int, default=6)
    p.add_argument("--chunk", type=int, default=64)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--min-lr-frac", type=float, default=0.05)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--wd", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--split", choices=["interleaved", "tail"], default="interleaved", help="the held-out split (see corpus())")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-windows", type=int, default=96, help="held-out windows in the periodic evaluation")
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--stop-at", type=int, default=0, help="save and stop after this step (a later run with the same --run resumes)")
    p.add_argument("--deadline", default="", help="UTC time HH:MM: save and stop there even if steps remain (logged)")
    p.add_argument("--bench", type=int, default=0, help="time this many steps, print the figures, exit")
    a = p.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    cfg = make_config(a)
    model = HybridLM(cfg)
    params = sum(t.numel() for t in model.parameters())
    train, held = corpus(a.split)
    held_w, held_skip = sliding_windows(held, a.seq)
    pick = torch.linspace(0, len(held_w) - 1, min(a.eval_windows, len(held_w))).long()
    eval_w, eval_skip = held_w[pick], held_skip[pick]

    decay = [t for n, t in model.named_parameters() if t.dim() >= 2 and "conv1d" not in n]
    other = [t for n, t in model.named_parameters() if not (t.dim() >= 2 and "conv1d" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": other, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)

    def lr_at(step):
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        t = min(1.0, (step - a.warmup) / max(1, a.steps - a.warmup))
        return a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))

    gen = torch.Generator().manual_seed(a.seed)
    out = os.path.join(HERE, "runs", a.run)
    os.makedirs(out, exist_ok=True)
    start, step, tokens = 0, 0, 0
    wall0, cpu0 = 0.0, 0.0                           # minutes spent before a resume
    ckpt_path = os.path.join(out, "ckpt.pt")
    if not a.bench and os.path.exists(ckpt_path):   # resume
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        start, tokens = ck["step"], ck["tokens"]
        wall0, cpu0 = ck.get("wall_min", 0.0), ck.get("cpu_min", 0.0)
        if "wall_min" not in ck:                     # a checkpoint from before these fields: the log's row
            for row in open(os.path.join(out, "log.tsv")):
                f = row.rstrip("\n").split("\t")
                if f[0] == str(start):
                    wall0, cpu0 = float(f[5]), float(f[6])
        print(f"resumed at step {start} ({wall0:.2f} wall min, {cpu0:.2f} cpu min before)", flush=True)
    if not a.bench:
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump({"args": vars(a), "config": cfg.__dict__ | {"attn_layers": list(cfg.attn_layers)}, "params": params,
                       "train_bytes": len(train), "held_out_bytes": sum(len(b) for b in held)}, f, indent=2)
    log = open(os.path.join(out, "log.tsv"), "a") if not a.bench else open(os.devnull, "w")
    if start == 0 and not a.bench:
        log.write("step\tlr\ttrain_bpb\theld_out_bpb\ttokens\twall_min\tcpu_min\n")
    elif start:
        log.write(f"# resumed at step {start}: {' '.join(sys.argv[1:])}\n")
    print(f"{params:,} parameters; train {len(train):,} bytes, held-out {sum(len(b) for b in held):,} bytes; {a.steps} steps of "
          f"{a.batch}x{a.seq} tokens", flush=True)

    def save(step):
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(), "step": step,
                    "tokens": tokens, "config": cfg.__dict__, "args": vars(a),
                    "wall_min": wall0 + (time.time() - t0) / 60, "cpu_min": cpu0 + (time.process_time() - c0) / 60}, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)

    t0, c0 = time.time(), time.process_time()
    acc, acc_n = 0.0, 0
    for step in range(start, a.bench or a.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        off = torch.randint(0, len(train) - a.seq - 1, (a.batch,), generator=gen)
        w = torch.stack([train[o:o + a.seq + 1] for o in off.tolist()])
        logits = model(w[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 256), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tokens += a.batch * a.seq
        acc += loss.item()
        acc_n += 1
        done = step + 1
        if a.bench:
            if done == 3:
                t0, c0 = time.time(), time.process_time()
            continue
        held_bpb = ""
        if done % a.eval_every == 0 or done == a.steps:
            held_bpb = f"{bits_per_byte(model, eval_w, eval_skip):.4f}"
        if done % 25 == 0 or held_bpb:
            wall, cpu = wall0 + (time.time() - t0) / 60, cpu0 + (time.process_time() - c0) / 60
            line = f"{done}\t{lr_at(step):.2e}\t{acc / acc_n / math.log(2):.4f}\t{held_bpb}\t{tokens}\t{wall:.2f}\t{cpu:.2f}"
            log.write(line + "\n")
            log.flush()
            print(line, flush=True)
            acc, acc_n = 0.0, 0
        if done % a.ckpt_every == 0 or done == a.steps:
            save(done)
        if done == start + 50:
            per = (time.time() - t0) / 50
            print(f"{per:.2f} s/step wall: the {a.steps} steps end in about {per * (a.steps - done) / 60:.0f} min", flush=True)
        if done == a.stop_at:
            save(done)
            print(f"stopped after step {done} (--stop-at)", flush=True)
            break
        if a.deadline and time.strftime("%H:%M", time.gmtime()) >= a.deadline:
            save(done)
            log.write(f"# stopped at the deadline {a.deadline} UTC after step {done} of {a.steps}\n")
            print(f"stopped at the deadline after step {done}", flush=True)
            break
    if a.bench:
        n = a.bench - 3
        wall, cpu = time.time() - t0, time.process_time() - c0
        print(f"bench: {params:,} params, {1000 * wall / n:.0f} ms/step wall, {1000 * cpu / n:.0f} ms/step cpu, "
              f"{n * a.batch * a.seq / wall:.0f} tokens/s wall", flush=True)


if __name__ == "__main__":
    main()
