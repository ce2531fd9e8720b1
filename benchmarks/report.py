"""The benchmarks' kept results as Markdown tables, written into the pages that show them.

    python -m benchmarks.report                          # print every table
    python -m benchmarks.report --take train_step,gpt2   # keep those runs, rewrite the pages
    python -m benchmarks.report --write                  # rewrite the pages from the kept runs
    python -m benchmarks.report --check                  # exit 1 when a page disagrees

Every benchmark writes its latest run to `benchmarks/results/<name>.json`, a scratch file git
ignores. The runs the pages show are kept, committed, in `benchmarks/results/latest/`:
`--take NAME` copies a scratch file there (and implies --write). A table sits in README.md or
benchmarks/README.md between `<!-- results: KEY -->` and `<!-- end results: KEY -->`; --write
replaces what is between them with what the kept JSON gives, and --check (run by
tests/test_docs.py) fails when the two differ, so no figure on those pages is typed by hand.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / "benchmarks" / "results"
KEPT = SCRATCH / "latest"
PAGES = ("README.md", "benchmarks/README.md")
BLOCK = re.compile(r"(<!-- results: (?P<key>[\w-]+) -->\n)(?P<body>.*?)(<!-- end results: "
                   r"(?P=key) -->)", re.S)

# The command that produces each kept file (shown where a file is missing).
COMMANDS = {
    "train_step": "python benchmarks/train_step.py --configs A,B,G4x64,G8x256",
    "gpt2": "python benchmarks/gpt2.py --quantize int8",
    "nanogpt_recipe": "python benchmarks/nanogpt_recipe.py",
    "kernels": "python benchmarks/kernels.py",
    "generate": "python benchmarks/generate.py",
    "overhead": "python benchmarks/overhead.py",
}


def load(name: str, kept: Path = KEPT) -> dict | None:
    """The kept results of benchmark `name`, or None when none are kept."""
    path = kept / f"{name}.json"
    if not path.exists():  # a quick run (kernels.py --quick writes kernels_quick.json)
        path = kept / f"{name}_quick.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


# ---- formatting --------------------------------------------------------------------------------
def ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    value = seconds * 1e3
    return f"{value:,.0f}" if value >= 1000 else f"{value:.1f}"


def ratio(theirs: float | None, ours: float | None) -> str:
    """Their time over ours: above 1 when ours is faster (or smaller)."""
    return "-" if not theirs or not ours else f"{theirs / ours:.2f}x"


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def when(doc: dict) -> str:
    """The run's date and time in UTC, to the minute ("2026-12-02 03:10 UTC")."""
    stamp = doc.get("time")
    if not stamp:
        return "an unrecorded time"
    t = datetime.datetime.fromisoformat(stamp).astimezone(datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M UTC")


def machine(doc: dict) -> str:
    """One line: the CPU, its cores, the libraries, when, how loaded, how the run was asked."""
    m = doc.get("machine", {})
    parts = [f"{m.get('cpu', 'an unrecorded CPU')}, {m.get('cpu_count', '?')} cores"]
    libs = [f"NumPy {m['numpy']}" if m.get("numpy") else "",
            f"Numba {m['numba']}" if m.get("numba") else "",
            f"PyTorch {m['torch']} on {m.get('torch_threads')} threads" if m.get("torch") else ""]
    parts.append(", ".join(x for x in libs if x))
    if doc.get("numpy_blas_gflops"):
        parts.append(f"NumPy's BLAS at {doc['numpy_blas_gflops']:.0f} GFLOP/s (2048^3 float32)")
    start, end = doc.get("load_average_start"), m.get("load_average")
    if start or end:
        parts.append("load average " + (f"{start[0]:.1f} at the start" if start else "") +
                     (", " if start and end else "") + (f"{end[0]:.1f} at the end" if end else ""))
    parts.append(when(doc))
    args = " ".join(doc.get("argv") or [])
    script = doc.get("benchmark", "?").removesuffix("_quick")  # kernels.py --quick: kernels_quick
    command = f"`python benchmarks/{script}.py{' ' + args if args else ''}`"
    commit = f" at {doc['commit']}" if doc.get("commit") else ""
    return "; ".join(p for p in parts if p) + f"; {command}{commit}."


def missing(name: str) -> str:
    return (f"_No kept results: run `{COMMANDS.get(name, name)}`, then "
            f"`python -m benchmarks.report --take {name}`._\n")


# ---- the training step (README's speed table and the full one) ---------------------------------
def describe(name: str, row: dict) -> str:
    c = row.get("model")
    if not c:
        return name
    seq = c.get("seq", c["block_size"])
    size = ("GPT-2 small (124M)" if c["vocab_size"] == 50257 and c["n_embd"] == 768
            else f"{c['n_layer']} layers, n_embd {c['n_embd']}")
    return f"{name}: {size}, batch {c['batch']} x {seq}"


def spread(row: dict, key: str) -> str:
    samples = (row.get("samples_s") or {}).get(key)
    if not samples:
        return "", 0
    return f"{ms(min(samples))}..{ms(max(samples))}", len(samples)


def readme_speed(doc: dict | None) -> str:
    if doc is None:
        return missing("train_step")
    rows = []
    counts = set()
    for name, row in doc["configs"].items():
        t = row["times_s"]
        counts.add(spread(row, "ours_step")[1])
        rows.append([describe(name, row), f"{ms(t['ours_step'])} ms",
                     *(f"{ms(t[k])} ms ({ratio(t[k], t['ours_step'])})" if t.get(k) else "-"
                       for k in ("eager_step", "compile_step"))])
    n = "/".join(str(c) for c in sorted(counts, reverse=True) if c) or "several"
    return (table(["training step (float32)", "tinygrad_lm", "PyTorch eager", "torch.compile"],
                  rows) +
            f"\nRatio: PyTorch's time over ours (above 1: ours is faster); medians of {n} "
            f"steps in one process, interleaved. {machine(doc)}\n")


def bound_cells(row: dict, what: str) -> list[str]:
    """The matmul bound (the FLOPs at NumPy's best BLAS rate in that run) and ours over it; from
    the BLAS share in results written before the bound had its own fields."""
    bound = row.get(f"{what}_bound_s")
    over = row.get(f"{what}_over_bound")
    if bound is None:
        share = row[f"{what}_blas_share"]
        over = 1.0 / share
        bound = row["times_s"][f"ours_{what}"] * share
    return [ms(bound), f"{over:.2f}x"]


def train_step_page(doc: dict | None) -> str:
    if doc is None:
        return missing("train_step")
    rows, memory, classes = [], [], {}
    for name, row in doc["configs"].items():
        t = row["times_s"]
        for what in ("step", "fwd"):
            span, n = spread(row, f"ours_{what}")
            ours, eager, compiled = (t.get(f"{who}_{what}") for who in ("ours", "eager",
                                                                          "compile"))
            rows.append([name, "step" if what == "step" else "forward",
                         f"{ms(ours)} ({span}, n={n})" if n else ms(ours),
                         ms(eager), ratio(eager, ours), ms(compiled), ratio(compiled, ours),
                         f"{row[f'{what}_gflops']:.0f}", *bound_cells(row, what)])
        peak = row.get("peak_rss_mb")
        if peak:
            memory.append(f"{name} ours {peak['ours']:,.0f}" +
                          (f" / PyTorch {peak['torch']:,.0f}" if peak.get("torch") else ""))
        for cls, share in row.get("profile_share", {}).items():
            classes.setdefault(cls, {})[name] = share
    out = table(["config", "what", "ours ms (min..max, n)", "eager ms", "ours vs eager",
                 "compile ms", "ours vs compile", "ours GFLOP/s", "matmul bound ms",
                 "ours / bound"], rows)
    out += "\n" + "; ".join(describe(n, r) for n, r in doc["configs"].items()) + ".\n"
    if memory:
        out += f"\nPeak resident MB of a fresh process taking 3 steps: {'; '.join(memory)}.\n"
    if doc.get("start_s"):
        s = doc["start_s"]
        out += (f"\n`tinygrad-lm train` from launch to the end of its first step: "
                f"{s['cold']:.1f} s with an empty Numba cache, {s['warm']:.1f} s with it filled.\n")
    if classes:
        names = list(doc["configs"])
        order = sorted(classes, key=lambda c: -max(classes[c].values()))
        out += "\nWhere our step's time goes (the profiler's op classes):\n\n"
        rows = [[c] + [f"{classes[c][n]:.1%}" if n in classes[c] else "-" for n in names]
                for c in order]
        idle = {n: r["split_idle"] for n, r in doc["configs"].items() if r.get("split_idle")}
        if idle:  # core time, not wall time: a share of (wall x threads), beside the classes
            rows.append(["cores idle in split kernels (share of the cores' time)"] +
                        [f"{idle[n]['share_of_cores']:.1%}" if n in idle else "-"
                         for n in names])
        out += table(["op class"] + names, rows)
    return out + f"\n{machine(doc)}\n"


# ---- GPT-2 small end to end --------------------------------------------------------------------
def gpt2_page(doc: dict | None) -> str:
    if doc is None:
        return missing("gpt2")
    rows = []
    for shape, t in doc.get("train", {}).items():
        bound = (f" (matmul bound {ms(t['bound_s'])} ms: ours {t['ours'] / t['bound_s']:.2f}x)"
                 if t.get("bound_s") else "")
        rows.append([f"train step {shape.replace('x', ' x ')}, ms{bound}", ms(t["ours"]),
                     ms(t.get("torch")), ms(t.get("hf")), ratio(t.get("torch"), t["ours"]),
                     ratio(t.get("hf"), t["ours"])])
    f = doc.get("forward_4x64_s")
    if f:
        rows.append(["forward 4 x 64 (no graph), ms", ms(f["ours"]), ms(f.get("torch")),
                     ms(f.get("hf")), ratio(f.get("torch"), f["ours"]),
                     ratio(f.get("hf"), f["ours"])])
    g = doc.get("generate")
    if g:
        n, s = g["new_tokens"], g["seconds"]
        for kind in ("greedy", "sampled"):
            ours, hf = s[f"ours {kind}"], s.get(f"hf {kind}")
            note = " (tokens identical)" if kind == "greedy" and g.get(
                "greedy_tokens_identical") else " (top-k 50)" if kind == "sampled" else ""
            rows.append([f"generate {kind}{note}, tokens/s", f"{n / ours:.1f}", "-",
                         f"{n / hf:.1f}" if hf else "-", "-", ratio(hf, ours)])
        if "ours int8 greedy" in s:  # gpt2.py --quantize int8
            ours, hf = s["ours int8 greedy"], s.get("hf greedy")
            same = g.get("int8_greedy_tokens_before_first_difference")
            rows.append([f"generate greedy, int8 weights (first {same} of {n} tokens as "
                         "float32's), tokens/s", f"{n / ours:.1f}", "-",
                         f"{n / hf:.1f}" if hf else "-", "-", ratio(hf, ours)])
        p = g["prefill_512_s"]
        rows.append(["prefill 512 tokens, ms", ms(p["ours"]), "-", ms(p.get("hf")), "-",
                     ratio(p.get("hf"), p["ours"])])
    mem = doc.get("memory_mb")
    if mem:
        tr = mem["train_8x256"]
        rows.append(["peak MB, training at 8 x 256", f"{tr['ours']:,.0f}",
                     f"{tr['torch']:,.0f}" if tr.get("torch") else "-", "-",
                     ratio(tr.get("torch"), tr["ours"]), "-"])
        ours, hf = mem["from_pretrained_forward"], mem.get("hf_from_pretrained_forward")
        rows.append(["peak MB, from_pretrained + one forward", f"{ours:,.0f}", "-",
                     f"{hf:,.0f}" if hf else "-", "-", ratio(hf, ours)])
    load = doc.get("load_s")
    if load:
        ours, hf = load["ours from_pretrained"], load.get("hf from_pretrained")
        rows.append(["from_pretrained (tokenizer included), s", f"{ours:.2f}", "-",
                     f"{hf:.2f}" if hf else "-", "-", ratio(hf, ours)])
    tok = (doc.get("tokenizer_1mb_s") or {}).get("english")
    if tok:
        rows.append(["encode 1 MB of English, s (tiktoken in the HF column)", f"{tok['ours']:.2f}",
                     "-", f"{tok['tiktoken']:.2f}" if tok.get("tiktoken") else "-", "-",
                     ratio(tok.get("tiktoken"), tok["ours"])])
    return (table(["what", "ours", "PyTorch eager", "Hugging Face", "PyTorch / ours",
                   "HF / ours"], rows) +
            "\nRatios above 1: ours is faster or smaller. Random weights, float32; the three "
            f"implementations hold the same weights. {machine(doc)}\n")


# ---- the rest ----------------------------------------------------------------------------------
def generate_page(doc: dict | None) -> str:
    if doc is None:
        return missing("generate")
    r = doc["results"]
    m = doc["model"]
    rows = [[path, f"{r[path]['median_seconds']:.2f}", f"{r[path]['tokens_per_s']:.1f}"]
            for path in ("cached", "uncached")]
    return (table(["decoding", "median s", "tokens/s"], rows) +
            f"\nWith the KV cache, decoding runs {doc['speedup']:.1f}x as fast as without: "
            f"{doc['new_tokens']} new tokens, "
            f"batch 1, greedy, a model of {m['n_layer']} layers, n_embd {m['n_embd']}, block "
            f"{m['block_size']} (the shakespeare-char preset's shape), median of "
            f"{doc['rounds']} rounds. {machine(doc)}\n")


def kernels_page(doc: dict | None) -> str:
    if doc is None:
        return missing("kernels")
    rows = []
    both = {(r["kernel"].rsplit(" ", 1)[0], r["shape"]) for r in doc["kernels"]
            if r["kernel"].endswith(" fwd+bwd")}
    for r in doc["kernels"]:
        base, _, part = r["kernel"].rpartition(" ")
        if part in ("fwd", "bwd") and (base, r["shape"]) in both:
            continue  # forward and backward together are the row that matters
        t = r["seconds"]
        ref, nb, th = t["reference"], t["numba"], t.get("torch")
        rows.append([r["kernel"], f"`{r['shape']}`", f"{ref * 1e6:,.0f}", f"{nb * 1e6:,.0f}",
                     f"{th * 1e6:,.0f}" if th else "-", f"{ref / nb:.1f}x",
                     f"{nb / th:.2f}" if th else "-"])
    out = table(["kernel", "shape", "NumPy reference us", "Numba us", "PyTorch us",
                 "Numba speed-up", "Numba / PyTorch time"], rows)
    out += ("\nMedian microseconds per call; PyTorch at the ATen level (its kernels, no "
            "autograd).\n")
    rows = []
    for r in doc["matmul"]:
        g = r["gflops"]
        rows.append([r["kernel"], f"`{r['shape']}`", f"{g['reference']:.0f}", f"{g['numba']:.0f}",
                     f"{g['torch']:.0f}" if "torch" in g else "-"])
    out += ("\nMatmuls, GFLOP/s (NumPy as it ships, with BLAS's own threads, in its own "
            "process):\n\n")
    out += table(["matmul", "shape", "NumPy", "ours", "PyTorch"], rows)
    cold = doc["compile_seconds"]["cold"]
    out += (f"\nFirst calls with an empty Numba cache: {sum(cold.values()):.1f} s for "
            f"{len(cold)} kernels. {machine(doc)}\n")
    return out


def nanogpt_recipe_page(doc: dict | None) -> str:
    if doc is None:
        return missing("nanogpt_recipe")
    s, rounds = doc["summary"], len(doc["rounds"])
    ours, theirs = s["ours"], s["nanogpt"]
    rows = [["wall s, launch to the last step's evaluation", f"{ours['wall_s']:.1f}",
             f"{theirs['wall_s']:.1f}", ratio(theirs["wall_s"], ours["wall_s"])],
            ["training s (steps and evaluations)", f"{ours['training_s']:.1f}",
             f"{theirs['training_s']:.1f}", ratio(theirs["training_s"], ours["training_s"])],
            [f"val loss at step {doc['max_iters']} (20 batches)", f"{ours['val_loss']:.4f}",
             f"{theirs['val_loss']:.4f}", f"{ours['val_loss'] - theirs['val_loss']:+.4f}"]]
    f = doc.get("final_eval")
    if f:
        rows.append([f"val loss, both final models on the same {f['batches']} batches",
                     f"{f['ours']['val_loss']:.4f} +- {f['ours']['se']:.4f}",
                     f"{f['nanogpt']['val_loss']:.4f} +- {f['nanogpt']['se']:.4f}",
                     f"{f['ours']['val_loss'] - f['nanogpt']['val_loss']:+.4f}"])
    return (table(["nanoGPT's CPU recipe", "tinygrad_lm", "nanoGPT", "nanoGPT / ours (time); "
                   "ours - nanoGPT (loss)"], rows) +
            f"\nMedians of {rounds} round(s), one run after the other. {machine(doc)}\n")


def overhead_page(doc: dict | None) -> str:
    if doc is None:
        return missing("overhead")
    t, share = doc["times"], doc["overhead_share"]
    rows = [[k, ms(v["wall_s"]), ms(v["cpu_s"])] for k, v in t.items()]
    return (table(["config " + doc["config"], "wall ms", "CPU ms"], rows) +
            f"\nThe skeleton (the same graph at toy widths) is {share['cpu_s']:.1%} of the step's "
            f"CPU time and {share['wall_s']:.1%} of its wall time: that much of a step is "
            f"Python, autograd and the optimizer. {machine(doc)}\n")


RENDER = {
    "speed": ("train_step", readme_speed),
    "train_step": ("train_step", train_step_page),
    "gpt2": ("gpt2", gpt2_page),
    "generate": ("generate", generate_page),
    "kernels": ("kernels", kernels_page),
    "overhead": ("overhead", overhead_page),
    "nanogpt_recipe": ("nanogpt_recipe", nanogpt_recipe_page),
}


def render(key: str, kept: Path = KEPT) -> str:
    name, fn = RENDER[key]
    return fn(load(name, kept))


def rewritten(text: str, kept: Path = KEPT) -> str:
    """`text` with every results block regenerated."""
    return BLOCK.sub(lambda m: m.group(1) + render(m.group("key"), kept) + m.group(4), text)


def stale(root: Path = ROOT, kept: Path | None = None) -> list[str]:
    """The pages (and blocks) whose tables differ from what the kept JSON gives."""
    kept = kept or root / "benchmarks" / "results" / "latest"
    out = []
    for page in PAGES:
        text = (root / page).read_text(encoding="utf-8")
        for m in BLOCK.finditer(text):
            if m.group("key") not in RENDER:
                out.append(f"{page}: unknown results block {m.group('key')!r}")
            elif m.group("body") != render(m.group("key"), kept):
                out.append(f"{page}: block {m.group('key')!r}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--take", default="", help="comma-separated benchmark names whose scratch "
                    "results (benchmarks/results/NAME.json) become the kept ones")
    ap.add_argument("--write", action="store_true", help="rewrite the pages' results blocks")
    ap.add_argument("--check", action="store_true", help="exit 1 when a page is stale")
    args = ap.parse_args(argv)
    for name in filter(None, args.take.split(",")):
        source = SCRATCH / f"{name}.json"
        if not source.exists():
            ap.error(f"{source} does not exist: run the benchmark first"
                     + (f" ({COMMANDS[name]})" if name in COMMANDS else ""))
        KEPT.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, KEPT / f"{name}.json")
        print(f"kept {source.relative_to(ROOT)} as {(KEPT / (name + '.json')).relative_to(ROOT)}")
    if args.check:
        problems = stale()
        for p in problems:
            print(f"stale: {p} (run `python -m benchmarks.report --write`)")
        return 1 if problems else 0
    if args.write or args.take:
        for page in PAGES:
            path = ROOT / page
            text = path.read_text(encoding="utf-8")
            new = rewritten(text)
            if new != text:
                path.write_text(new, encoding="utf-8")
                print(f"rewrote the results in {page}")
        return 0
    for key in RENDER:
        print(f"## {key}\n\n{render(key)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
