"""Run one lesson cell by cell, as `python lessons/NN_name.py --quick` would, and record each
cell's printed output and the figures it saved.

    python run_cells.py LESSON.py FIGURES_DIR RESULT.json

Called by lessons_md.py in a fresh process per lesson, in a scratch copy of lessons/. The cells
run in one namespace, in order, exactly as the script runs top to bottom; only the printing is
collected per cell. A cell that raises prints the traceback and exits 1.
"""

import contextlib
import io
import json
import os
import sys
import traceback


def main(script: str, figures: str, result_path: str) -> int:
    import jupytext

    nb = jupytext.read(script, fmt="py:percent")
    sys.argv = [script, "--quick"]
    sys.path.insert(0, os.path.dirname(script))
    namespace = {"__name__": "__main__", "__file__": script}
    watched = [figures, os.path.join(os.path.dirname(script), "out")]
    seen: set[str] = set()
    cells = []
    for index, cell in enumerate(nb.cells):
        entry = {"type": cell.cell_type, "source": cell.source,
                 "tags": list(cell.get("metadata", {}).get("tags", [])), "text": [],
                 "images": []}
        cells.append(entry)
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(cell.source, f"{os.path.basename(script)}, cell {index}", "exec"),
                     namespace)
        except BaseException:
            sys.stdout.write(printed.getvalue())
            traceback.print_exc()
            return 1
        entry["text"].append(printed.getvalue())
        now = {os.path.join(d, f) for d in watched if os.path.isdir(d) for f in os.listdir(d)}
        entry["images"] = sorted(p for p in now - seen if p.endswith(".png"))
        seen |= now
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(cells, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
