"""How much student-written code two students share: winnowed fingerprints of normalised
tokens, as MOSS computes them (Schleimer, Wilkerson and Aiken, "Winnowing: local algorithms for
document fingerprinting", SIGMOD 2003).

What is compared: per graded task, the code between the task's markers in each submission, less
the starter's lines. Tokens come from Python's own `tokenize` (the language's exact lexer, in
the standard library: nothing to install, and it never runs the code). A local name becomes
`V`, a number `N`, a string `S`; keywords, operators, builtins and attribute names stay (a
student cannot rename `np.argsort`); comments, blank lines and indentation go. So renaming
variables, rewording comments, changing literals or re-spacing changes nothing.

Winnowing: hash every run of K consecutive tokens (a k-gram); in every window of W consecutive
hashes keep the smallest (the rightmost on ties). Any passage of at least W + K - 1 common
tokens then shares a fingerprint, while a typical file keeps about 2 / (W + 1) of its hashes.
Fingerprints of the teacher's reference solution and of the starter are dropped (code from the
handout or the answer key is nobody's own), and so are fingerprints that more than a `common`
share of the class has (the idiom everyone writes). A pair's score is the share of the smaller
side's fingerprints that the other side has too.
"""

from __future__ import annotations

import builtins
import hashlib
import keyword
import os
import tempfile
import textwrap
import tokenize
from dataclasses import dataclass, field

from .build import BuildError, find_regions, read_lines
from .grade import submission_root
from .markers import starter_lines
from .students import unpack_zip

K = 8            # tokens per k-gram: a short statement, e.g. `V = V . argsort ( - V`
W = 4            # hashes per window: any 11 common tokens in a row are always seen
MIN_SHARED = 3   # fewer common fingerprints than this never flags a pair
BUILTINS = set(dir(builtins))
SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
        tokenize.ENCODING, tokenize.ENDMARKER}


@dataclass
class Code:
    """One student's (or the reference's) code of one task: the text and line numbers of each
    region, and the normalised tokens with the region and line each came from."""
    # (file, first line, lines) of each region
    regions: list[tuple[str, int, list[str]]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    where: list[tuple[int, int]] = field(default_factory=list)  # (region index, line in it)


def normalise(lines: list[str]) -> list[tuple[str, int]]:
    """The normalised tokens of some Python lines, each with its 0-based line. Code that does
    not tokenize to the end (a syntax error) keeps the tokens before the error."""
    text = textwrap.dedent("".join(lines))
    out: list[tuple[str, int]] = []
    prev = ""
    try:
        for tok in tokenize.generate_tokens(iter(text.splitlines(keepends=True)).__next__):
            if tok.type in SKIP:
                continue
            s = tok.string
            if tok.type == tokenize.NAME:
                s = s if keyword.iskeyword(s) or s in BUILTINS or prev == "." else "V"
            elif tok.type == tokenize.NUMBER:
                s = "N"
            elif tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_START", -1):
                s = "S"
            elif tok.type in (getattr(tokenize, "FSTRING_MIDDLE", -1),
                              getattr(tokenize, "FSTRING_END", -1)):
                continue
            out.append((s, tok.start[0] - 1))
            prev = tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def starter_text(suite: str, suite_regions: dict, task_id: str) -> set[str]:
    """The stripped lines a student copy's starter puts in the regions of `task_id` (read from
    the suite's `# STARTER:` lines, or the default raise)."""
    lines: set[str] = set()
    for rel, ref_regions in suite_regions.items():
        regions = [r for r in ref_regions if r.task_id == task_id]
        if regions:
            text = read_lines(os.path.join(suite, rel))
            lines |= {x.strip() for r in regions for x in starter_lines(r, text) if x.strip()}
    return lines


def task_code(root: str, suite_regions: dict, task_id: str, starter: set[str]) -> Code:
    """The code of task `task_id` in the folder `root` (a submission or the reference): its
    regions' bodies without the starter's lines (`starter`, from starter_text). A missing file
    or broken markers give none."""
    code = Code()
    for rel, ref_regions in sorted(suite_regions.items()):
        if not any(r.task_id == task_id for r in ref_regions):
            continue
        path = os.path.join(root, rel)
        if not os.path.isfile(path) or os.path.islink(path) or \
                os.path.getsize(path) > 2 << 20:
            continue
        try:
            lines = read_lines(path)
            regions = find_regions(rel, lines)
        except (BuildError, UnicodeDecodeError):
            continue
        for r in regions:
            if r.task_id != task_id:
                continue
            body = lines[r.begin + 1:r.end]
            kept = ["\n" if line.strip() in starter else line for line in body]
            code.regions.append((rel, r.begin + 2, body))
            for tok, line in normalise(kept):
                code.tokens.append(tok)
                code.where.append((len(code.regions) - 1, line))
    return code


def fingerprints(tokens: list[str], salt: str = "") -> dict[int, list[int]]:
    """Winnowing: hash -> the token positions of the k-grams kept (the smallest hash of each
    window of W, the rightmost on ties). `salt` (the task id) keeps tasks apart."""
    hashes = [int.from_bytes(hashlib.blake2b((salt + "\0" + " ".join(tokens[i:i + K]))
                                             .encode(), digest_size=8).digest(), "big")
              for i in range(len(tokens) - K + 1)]
    kept: dict[int, list[int]] = {}
    last = -1
    # a text shorter than one window is one window
    starts = range(len(hashes) - W + 1) if len(hashes) >= W else range(1 if hashes else 0)
    for start in starts:
        window = hashes[start:start + W]
        low = min(window)
        pos = start + max(i for i, h in enumerate(window) if h == low)
        if pos != last:
            kept.setdefault(low, []).append(pos)
            last = pos
    return kept


def _submission_folder(path: str, tmp: str) -> str | None:
    if os.path.isdir(path):
        return submission_root(path)
    try:
        return submission_root(unpack_zip(path, os.path.join(tmp, os.path.basename(path))))
    except ValueError:
        return None


def compare(students: dict[str, str], suite: str, suite_regions: dict, task_ids: list[str],
            threshold: float = 0.5, common: float = 0.5) -> dict:
    """Every pair of `students` (id -> submission folder or zip) on the tasks `task_ids`.

    Returns:
        {"pairs": [{a, b, score, shared, a_share, b_share, tasks, flagged}] best first,
         "code": {student: {task: Code}}, "solution_share": {student: share of the
         student's fingerprints before filtering that the reference solution has}}.
    """
    codes: dict[str, dict[str, Code]] = {}
    starters = {t: starter_text(suite, suite_regions, t) for t in task_ids}
    with tempfile.TemporaryDirectory() as tmp:
        for sid, path in students.items():
            root = _submission_folder(path, tmp)
            codes[sid] = {t: task_code(root, suite_regions, t, starters[t]) if root else Code()
                          for t in task_ids}
    reference = {t: set(fingerprints(task_code(suite, suite_regions, t, starters[t]).tokens, t))
                 for t in task_ids}
    prints: dict[str, dict[int, tuple[str, list[int]]]] = {}
    solution_share = {}
    for sid, by_task in codes.items():
        mine, ref_hits, total = {}, 0, 0
        for t, code in by_task.items():
            for h, pos in fingerprints(code.tokens, t).items():
                total += 1
                if h in reference[t]:
                    ref_hits += 1
                else:
                    mine[h] = (t, pos)
        prints[sid] = mine
        solution_share[sid] = ref_hits / total if total else 0.0
    holders: dict[int, list[str]] = {}
    for sid, mine in prints.items():
        for h in mine:
            holders.setdefault(h, []).append(sid)
    too_common = max(2, int(common * len(students)))
    for h, who in holders.items():
        if len(who) > too_common:
            for sid in who:
                del prints[sid][h]
    counts: dict[tuple[str, str], int] = {}
    for who in holders.values():
        if len(who) <= too_common:
            for i, a in enumerate(who):
                for b in who[i + 1:]:
                    key = (a, b) if a < b else (b, a)
                    counts[key] = counts.get(key, 0) + 1
    ids = sorted(students)
    pairs = []
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            shared = counts.get((a, b), 0)
            na, nb = len(prints[a]), len(prints[b])
            score = shared / min(na, nb) if shared else 0.0
            common_hashes = set(prints[a]) & set(prints[b]) if shared else set()
            tasks = sorted({prints[a][h][0] for h in common_hashes})
            pairs.append({"a": a, "b": b, "score": round(score, 4), "shared": shared,
                          "a_share": round(shared / na, 4) if na else 0.0,
                          "b_share": round(shared / nb, 4) if nb else 0.0, "tasks": tasks,
                          "flagged": shared >= MIN_SHARED and score >= threshold})
    pairs.sort(key=lambda p: (not p["flagged"], -p["score"], -p["shared"], p["a"], p["b"]))
    return {"pairs": pairs, "code": codes, "prints": prints, "solution_share": solution_share,
            "threshold": threshold, "common": common, "too_common": too_common}


def matched_lines(result: dict, a: str, b: str, task: str) -> tuple[set, set]:
    """The (region, line) places of `a`'s and `b`'s code of `task` covered by a k-gram they
    share: the passages to put side by side."""
    shared = {h for h, (t, _) in result["prints"][a].items() if t == task} & \
        {h for h, (t, _) in result["prints"][b].items() if t == task}
    out = []
    for sid in (a, b):
        code, places = result["code"][sid][task], set()
        for h in shared:
            for pos in result["prints"][sid][h][1]:
                places.update(code.where[pos:pos + K])
        out.append(places)
    return out[0], out[1]
