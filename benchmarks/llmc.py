"""llm.c's CPU trainer (C/OpenMP) against tinygrad_lm: the same model, weights and tokens.

llm.c (github.com/karpathy/llm.c, MIT) is not a dependency and is never copied into this
repository: point the script at a checkout with --llmc-dir DIR or LLMC_DIR. Without one, or
without a C compiler that builds OpenMP, it says why and exits 0 (a skip, not a failure).

For each config of benchmarks/train_step.py (A, B, G4x64, G8x256): one tinygrad_lm GPT is made
(seed 0), its weights are written as an llm.c checkpoint (`write_checkpoint`: llm.c's 256-int32
header and its parameters in its order and layout), and llmc_harness.c, compiled against the
checkout's train_gpt2.c (`gcc -O3 -march=native -fopenmp`, OMP_NUM_THREADS=2), runs llm.c's
forward / zero_grad / backward / AdamW update on one fixed batch. Ours runs the same step:
forward, zero_grad, backward, AdamW with llm.c's update (one parameter group, the same lr,
betas, eps and weight decay, no gradient clipping: llm.c's CPU trainer has none).

Correctness first: every llm.c process starts from the checkpoint, so its step losses must
equal ours from the same weights: step 0 (the forward alone) to 1e-4 relative, the later steps
(backward and update too) to 1e-3. A mismatch stops the script: a benchmark of a different
computation is worthless.

Timing: rounds, ours and llm.c alternately. A round of each is one untimed step and then
`block` timed ones; llm.c's are timed inside C with clock_gettime around the four calls, so its
process start and reading the checkpoint are left out (and its untimed first step allocates
its activations). Medians and ranges over all timed steps, and llm.c/ours (llm.c's ms over
ours: above 1 means ours is faster).

    python benchmarks/llmc.py --llmc-dir DIR [--configs A,B,G4x64,G8x256] [--rounds 5]
        [--block 3] [--quick] [--cflags "-O3 -march=native -fopenmp"]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import write_json  # noqa: E402
from train_step import CONFIGS, model_fields, seq_len  # noqa: E402

from tinygrad_lm.kernels import tuned_for_training  # noqa: E402

MAGIC, VERSION, HEADER_INTS = 20240326, 3, 256  # gpt2_build_from_checkpoint's header
VOCAB_MULTIPLE = 128  # llm.c pads the vocabulary (50257 -> 50304); the padded rows are zero
CFLAGS = "-O3 -march=native -fopenmp"
OMP_THREADS = 2
# llm.c's own update call in train_gpt2.c's main: lr 1e-4, betas (0.9, 0.999), eps 1e-8, no decay
ADAMW = dict(lr=1e-4, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
STEP0_RTOL, LATER_RTOL = 1e-4, 1e-3
# (name in llm.c, our state-dict key with {i} for the layer, transposed: our Linear weights are
# (in, out), llm.c's (out, in), as PyTorch's nn.Linear)
LAYER_TENSORS = [("ln1w", "ln_1.weight", False), ("ln1b", "ln_1.bias", False),
                 ("qkvw", "attn.c_attn.weight", True), ("qkvb", "attn.c_attn.bias", False),
                 ("attprojw", "attn.c_proj.weight", True), ("attprojb", "attn.c_proj.bias", False),
                 ("ln2w", "ln_2.weight", False), ("ln2b", "ln_2.bias", False),
                 ("fcw", "mlp.c_fc.weight", True), ("fcb", "mlp.c_fc.bias", False),
                 ("fcprojw", "mlp.c_proj.weight", True), ("fcprojb", "mlp.c_proj.bias", False)]


def padded_vocab(vocab_size: int) -> int:
    return -(-vocab_size // VOCAB_MULTIPLE) * VOCAB_MULTIPLE


def feature_differences(model) -> list[str]:
    """What of our model llm.c's GPT-2 cannot express (empty: the same function). llm.c has
    GELU (tanh form), pre-LN LayerNorm with eps 1e-5 and biases, Linear biases, a head tied to
    the token embedding and no dropout, fixed in its C code."""
    from tinygrad_lm.nn.layers import LayerNorm
    c, out = model.config, []
    for field, want in (("activation", "gelu_tanh"), ("norm_position", "pre"), ("bias", True),
                        ("tie_weights", True), ("dropout", 0.0)):
        if getattr(c, field) != want:
            out.append(f"{field} = {getattr(c, field)!r}; llm.c has {want!r}")
    eps = {m.eps for _, m in model.named_modules() if isinstance(m, LayerNorm)}
    if eps != {1e-5}:
        out.append(f"LayerNorm eps {sorted(eps)}; llm.c has 1e-5")
    return out


def llmc_tensors(model) -> list[tuple[str, np.ndarray]]:
    """Our model's parameters as llm.c's 16 tensors, in its order, float32, in its layout:
    wte (Vp, C) zero-padded, wpe (maxT, C), then each per-layer kind stacked over the layers
    (L, ...), lnfw, lnfb."""
    c, sd = model.config, model.state_dict()
    wte = np.zeros((padded_vocab(c.vocab_size), c.n_embd), np.float32)
    wte[:c.vocab_size] = sd["transformer.wte.weight"]
    out = [("wte", wte), ("wpe", sd["transformer.wpe.weight"])]
    for name, key, transpose in LAYER_TENSORS:
        per_layer = [sd[f"transformer.h.{i}.{key}"] for i in range(c.n_layer)]
        out.append((name, np.stack([w.T if transpose else w for w in per_layer])))
    out += [("lnfw", sd["transformer.ln_f.weight"]), ("lnfb", sd["transformer.ln_f.bias"])]
    return [(name, np.ascontiguousarray(a, np.float32)) for name, a in out]


def write_checkpoint(model, path: str) -> None:
    """Write `model` as an llm.c checkpoint (version 3, float32). Refuses a model llm.c would
    compute differently, and an existing file (never overwritten)."""
    differences = feature_differences(model)
    if differences:
        raise ValueError("write_checkpoint: llm.c's GPT-2 differs from this model: "
                         + "; ".join(differences))
    c = model.config
    header = np.zeros(HEADER_INTS, np.int32)
    header[:8] = [MAGIC, VERSION, c.block_size, c.vocab_size, c.n_layer, c.n_head, c.n_embd,
                  padded_vocab(c.vocab_size)]
    with open(path, "xb") as f:
        f.write(header.tobytes())
        for _, a in llmc_tensors(model):
            f.write(a.tobytes())


def checkpoint_shapes(maxT: int, V: int, L: int, C: int, Vp: int) -> list[tuple[str, tuple]]:
    """llm.c's fill_in_parameter_sizes, as shapes."""
    per_layer = {"ln1w": (C,), "ln1b": (C,), "qkvw": (3 * C, C), "qkvb": (3 * C,),
                 "attprojw": (C, C), "attprojb": (C,), "ln2w": (C,), "ln2b": (C,),
                 "fcw": (4 * C, C), "fcb": (4 * C,), "fcprojw": (C, 4 * C), "fcprojb": (C,)}
    return ([("wte", (Vp, C)), ("wpe", (maxT, C))]
            + [(n, (L, *s)) for n, s in per_layer.items()] + [("lnfw", (C,)), ("lnfb", (C,))])


def read_checkpoint(path: str) -> tuple[dict, dict[str, np.ndarray]]:
    """An llm.c checkpoint as (header fields, {name: array}), read as llm.c reads it, checking
    the magic, the version and that the file holds exactly the parameters its header says."""
    size = os.path.getsize(path)
    if size < 4 * HEADER_INTS:
        raise ValueError(f"{path}: {size} bytes, shorter than llm.c's 1024-byte header")
    header = np.fromfile(path, np.int32, HEADER_INTS)
    if header[0] != MAGIC or header[1] != VERSION:
        raise ValueError(f"{path}: magic {header[0]} version {header[1]}; an llm.c float32 "
                         f"checkpoint has {MAGIC} and {VERSION}")
    fields = dict(zip(("maxT", "V", "L", "NH", "C", "Vp"), map(int, header[2:8])))
    if min(fields.values()) <= 0 or fields["Vp"] < fields["V"]:
        raise ValueError(f"{path}: bad sizes in the header {fields}")
    shapes = checkpoint_shapes(fields["maxT"], fields["V"], fields["L"], fields["C"],
                               fields["Vp"])
    count = sum(int(np.prod(s)) for _, s in shapes)
    if size != 4 * (HEADER_INTS + count):
        raise ValueError(f"{path}: {size} bytes; its header {fields} means "
                         f"{4 * (HEADER_INTS + count)}")
    flat = np.fromfile(path, np.float32, count, offset=4 * HEADER_INTS)
    tensors, at = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape))
        tensors[name] = flat[at:at + n].reshape(shape)
        at += n
    return fields, tensors


def llmc_location(given: str | None) -> tuple[str | None, str | None]:
    """(the llm.c checkout, None) or (None, why not)."""
    where = given or os.environ.get("LLMC_DIR")
    if not where:
        return None, "no llm.c checkout: pass --llmc-dir DIR or set LLMC_DIR"
    missing = [p for p in ("train_gpt2.c", "llmc/utils.h")
               if not os.path.isfile(os.path.join(where, p))]
    if missing:
        return None, f"{where} is not an llm.c checkout (no {', '.join(missing)})"
    return os.path.abspath(where), None


def build_harness(llmc_dir: str, out_dir: str, cflags: str) -> tuple[str | None, str | None]:
    """Compile llmc_harness.c against the checkout: (binary, None) or (None, why not)."""
    compiler = next((c for c in ("gcc", "cc", "clang") if shutil.which(c)), None)
    if compiler is None:
        return None, "no C compiler on PATH (gcc, cc or clang)"
    binary = os.path.join(out_dir, "llmc_harness")
    cmd = [compiler, *cflags.split(), "-Wno-unused-result", "-I", llmc_dir,
           os.path.join(HERE, "llmc_harness.c"), "-lm", "-o", binary]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no message)"])[-1]
        return None, f"compiling with `{' '.join(cmd)}` failed: {last}"[:400]
    return binary, None


def run_llmc(binary: str, checkpoint: str, tokens: str, B: int, T: int, block: int) -> dict:
    """One llm.c process: an untimed step, then `block` timed ones, from the checkpoint."""
    args = [binary, checkpoint, tokens, str(B), str(T), "1", str(block)]
    args += [str(ADAMW[k]) for k in ("lr", "beta1", "beta2", "eps", "weight_decay")]
    env = dict(os.environ, OMP_NUM_THREADS=str(OMP_THREADS))
    out = subprocess.run(args, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"llm.c failed ({out.returncode}): {out.stderr.strip()[-400:]}")
    losses, times, peak = [], [], float("nan")
    for line in out.stdout.splitlines():
        words = line.split()
        if words[:1] == ["step"]:
            losses.append(float(words[3]))
            if float(words[5]) >= 0:
                times.append(float(words[5]) / 1e3)
        elif words[:1] == ["peak_rss_mb"]:
            peak = float(words[1])
    return {"losses": losses, "times_s": times, "peak_rss_mb": peak}


def build_ours(c: dict, x: np.ndarray, y: np.ndarray):
    """The model (seed 0) and a step doing what llm.c's step does; the step returns the loss
    of its forward, before the update."""
    import tinygrad_lm as tg
    from tinygrad_lm.training import optim
    model = tg.GPT(tg.GPTConfig(**model_fields(c)), seed=0)
    opt = optim.AdamW(model.parameters(), lr=ADAMW["lr"], betas=(ADAMW["beta1"], ADAMW["beta2"]),
                      eps=ADAMW["eps"], weight_decay=ADAMW["weight_decay"])

    def step() -> float:
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.item())

    return model, step


def check_losses(ours: list[float], theirs: list[float]) -> dict:
    """Relative differences of the step losses; raises when they are not the same computation."""
    n = min(len(ours), len(theirs))
    rel = [abs(a - b) / abs(b) for a, b in zip(ours[:n], theirs[:n])]
    report = {"ours": ours[:n], "llmc": theirs[:n], "step0_rel": rel[0],
              "later_max_rel": max(rel[1:], default=None)}
    if rel[0] > STEP0_RTOL or any(r > LATER_RTOL for r in rel[1:]):
        raise AssertionError(f"llm.c and tinygrad_lm disagree: step losses {theirs[:n]} vs "
                             f"{ours[:n]} (relative {rel}; allowed {STEP0_RTOL} at step 0, "
                             f"{LATER_RTOL} after)")
    return report


def spread(times: list[float]) -> dict:
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "samples": len(times)}


def time_config(name: str, binary: str, tmp: str, rounds: int, block: int) -> dict:
    """Write the checkpoint and the batch, check the losses agree, then time in rounds."""
    c = CONFIGS[name]
    B, T = c["batch"], seq_len(c)
    rng = np.random.default_rng(0)
    x = rng.integers(0, c["vocab_size"], (B, T))
    y = rng.integers(0, c["vocab_size"], (B, T))
    model, step = build_ours(c, x, y)
    print(f"  {name}: GELU (tanh), pre-LN, LayerNorm eps 1e-5, biases, tied head, no dropout on "
          f"both; llm.c pads the vocabulary {c['vocab_size']} -> {padded_vocab(c['vocab_size'])} "
          "with zero rows (the same losses; its head multiplies the padded rows too)", flush=True)
    checkpoint, tokens = os.path.join(tmp, f"{name}.bin"), os.path.join(tmp, f"{name}.tokens")
    write_checkpoint(model, checkpoint)
    np.concatenate([x.ravel(), y.ravel()]).astype(np.int32).tofile(tokens)
    ours_times, llmc_times, llmc_peak = [], [], []
    for r in range(rounds):
        llmc = run_llmc(binary, checkpoint, tokens, B, T, block)
        if r == 0:  # from the same weights as ours: our first round's steps are its steps too
            first_llmc = llmc["losses"]
        llmc_times += llmc["times_s"]
        llmc_peak.append(llmc["peak_rss_mb"])
        losses = [step()]  # untimed, as llm.c's first step
        for _ in range(block):
            t0 = time.perf_counter()
            losses.append(step())
            ours_times.append(time.perf_counter() - t0)
        if r == 0:
            agreement = check_losses(losses, first_llmc)
        print(f"  {name} round {r + 1}/{rounds}: llm.c "
              f"{statistics.median(llmc['times_s']) * 1e3:.0f} ms, ours "
              f"{statistics.median(ours_times[-block:]) * 1e3:.0f} ms", flush=True)
    ours, theirs = spread(ours_times), spread(llmc_times)
    return {"B": B, "T": T, "padded_vocab": padded_vocab(c["vocab_size"]),
            "losses": agreement, "ours": ours, "llmc": theirs,
            "llmc_over_ours": theirs["median_s"] / ours["median_s"],
            "llmc_peak_rss_mb": max(llmc_peak)}


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llmc-dir", default=None, help="an llm.c checkout (or set LLMC_DIR)")
    parser.add_argument("--configs", default=None,
                        help=f"comma-separated, of {','.join(CONFIGS)}; default A,B (A with "
                             "--quick)")
    parser.add_argument("--rounds", type=int, default=None, help="default 5 (2 for GPT-2 "
                        "small, 2 with --quick)")
    parser.add_argument("--block", type=int, default=None,
                        help="timed steps per round and side; default 3 (1 for GPT-2 small, 2 "
                             "with --quick)")
    parser.add_argument("--quick", action="store_true", help="config A, 2 rounds of 2 steps")
    parser.add_argument("--cflags", default=CFLAGS,
                        help=f"compiler flags for llm.c (default {CFLAGS!r}; llm.c's Makefile "
                             "uses -Ofast)")
    args = parser.parse_args(argv)
    names = (args.configs or ("A" if args.quick else "A,B")).split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown config(s) {unknown}; choose from {list(CONFIGS)}")
    for flag in ("rounds", "block"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1")
    llmc_dir, why = llmc_location(args.llmc_dir)
    if llmc_dir is None:
        print(f"llmc.py skipped: {why}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        binary, why = build_harness(llmc_dir, tmp, args.cflags)
        if binary is None:
            print(f"llmc.py skipped: {why}")
            return 0
        from tinygrad_lm.kernels import threads
        print(f"llm.c from {llmc_dir} ({llmc_commit(llmc_dir)}), {args.cflags}, "
              f"OMP_NUM_THREADS={OMP_THREADS}; tinygrad_lm with {threads.num_threads()} threads; "
              f"AdamW {ADAMW}, no clipping, on both; load average {load_average()}")
        results = {}
        for name in names:
            big = CONFIGS[name]["vocab_size"] > 1000
            rounds = args.rounds or (2 if args.quick or big else 5)
            block = args.block or (2 if args.quick else 1 if big else 3)
            results[name] = time_config(name, binary, tmp, rounds, block)
    report(results)
    path = write_json("llmc", {"llmc_dir": llmc_dir, "llmc_commit": llmc_commit(llmc_dir),
                               "cflags": args.cflags, "omp_threads": OMP_THREADS,
                               "adamw": ADAMW, "load_average_end": load_average(),
                               "configs": results})
    print(f"\nwrote {path}")
    return 0


def llmc_commit(llmc_dir: str) -> str | None:
    out = subprocess.run(["git", "-C", llmc_dir, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    return out.stdout.strip() or None if out.returncode == 0 else None


def report(results: dict) -> None:
    head = (f"\n{'cfg':<8}{'B x T':>10}{'ours ms':>10}{'(range)':>18}{'llm.c ms':>10}"
            f"{'(range)':>18}{'llm.c/ours':>11}{'step-0 rel':>11}{'later rel':>10}")
    print(head)
    print("-" * len(head.strip("\n")))
    for name, r in results.items():
        o, t, agree = r["ours"], r["llmc"], r["losses"]
        later = agree["later_max_rel"]
        print(f"{name:<8}{r['B']:>5} x{r['T']:>4}{o['median_s'] * 1e3:>10.1f}"
              f"{o['min_s'] * 1e3:>9.1f}..{o['max_s'] * 1e3:<7.1f}{t['median_s'] * 1e3:>10.1f}"
              f"{t['min_s'] * 1e3:>9.1f}..{t['max_s'] * 1e3:<7.1f}{r['llmc_over_ours']:>10.2f}x"
              f"{agree['step0_rel']:>11.1e}{later if later is not None else float('nan'):>10.1e}")
    print("llm.c/ours: llm.c's ms over ours (above 1: ours is faster). Same model, weights, "
          "tokens and update on both; llm.c pads the vocabulary to a multiple of 128 (zero "
          "rows: the same losses, a few more head FLOPs)")


if __name__ == "__main__":
    with tuned_for_training():  # as `tinygrad-lm train` runs: kernels/tuning.py
        status = main()
    sys.exit(status)
