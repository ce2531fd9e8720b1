"""`tinygrad-lm assignments build|grade`."""

from __future__ import annotations


def _only(text: str | None) -> set[int] | None:
    if not text:
        return None
    try:
        return {int(x) for x in text.split(",") if x.strip()}
    except ValueError:
        raise ValueError(f"--only takes assignment numbers like 1,2 (got {text!r})") from None


def _build(args, extra) -> int:
    from .build import build_student_copy
    cut = build_student_copy(args.repo, args.out, _only(args.only))
    print(f"wrote a student copy to {args.out} with {len(cut)} tasks cut: {', '.join(cut)}")
    return 0


def _grade(args, extra) -> int:
    from .grade import format_table, grade
    rows = grade(args.repo, args.json, _only(args.only))
    print(format_table(rows))
    if args.json:
        print(f"scores written to {args.json}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("assignments", help="build a student copy or grade one")
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="write a student copy with solutions cut out")
    b.add_argument("--out", required=True)
    b.add_argument("--repo", default=".")
    b.add_argument("--only", help="assignment numbers, e.g. 1,2")
    b.set_defaults(handler=_build)
    g = sub.add_parser("grade", help="run the tests per task and print a score table")
    g.add_argument("--repo", default=".")
    g.add_argument("--json", help="also write the scores as JSON (for an LMS)")
    g.add_argument("--only", help="assignment numbers, e.g. 1,2")
    g.set_defaults(handler=_grade)
