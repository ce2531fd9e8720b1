#!/usr/bin/env bash
# Every install the pages document, proven in a fresh environment: for each extra a page names,
# a new venv (no system site-packages) with only that extra installed runs that section's
# command, in a scratch folder. The venvs share pip's download cache, never a venv. The docs
# build shows the lessons from the cache the test run left (their own check is [lessons]).
#
#   base       pip install -e .             README's Python example; tinygrad-lm train --preset tiny
#   [test]     pip install -e ".[test]"     every test module imports; a quick test file passes
#   [lessons]  pip install -e ".[lessons]"  tinygrad-lm lessons export; a lesson as a notebook
#   [docs]     pip install -e ".[docs]"     mkdocs build --strict
#
# Prints one line per check (extra, command, result, seconds) and exits 1 when any failed.
# FRESH_ENVS=base,docs runs some of them only.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/fresh-envs.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 MPLBACKEND=Agg
ONLY=${FRESH_ENVS:-base,test,lessons,docs}
SUMMARY=()
FAILED=0

# The four installs run at once (they mostly wait on the package index), each into its own
# venv from its own source tree: an editable install writes tinygrad_lm.egg-info into the tree
# it installs, so base, [test] and [lessons] install copies of the checkout's files, and [docs]
# installs the checkout itself (where the test run left the lessons' executed notebooks).
declare -A EXTRA=([base]="" [test]="[test]" [lessons]="[lessons]" [docs]="[docs]")
declare -A SRC PID START
for name in base test lessons docs; do
    [[ ",$ONLY," == *",$name,"* ]] || continue
    SRC[$name]=$ROOT
    if [ "$name" != docs ]; then
        SRC[$name]=$WORK/src-$name
        mkdir -p "${SRC[$name]}"
        git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "${SRC[$name]}"
    fi
    START[$name]=$SECONDS
    (python3 -m venv "$WORK/$name" &&
        "$WORK/$name/bin/python" -m pip install --quiet -e "${SRC[$name]}${EXTRA[$name]}") \
        >"$WORK/install-$name.log" 2>&1 &
    PID[$name]=$!
done

# installed NAME: wait for NAME's install; its output, and its status
installed() {
    wait "${PID[$1]}"
    local status=$?
    cat "$WORK/install-$1.log"
    return $status
}

# check EXTRA-LABEL VENV DESCRIPTION COMMAND...: run COMMAND with the venv first on PATH
check() {
    local label=$1 venv=$2 what=$3
    shift 3
    local start=${CHECK_START:-$SECONDS} log
    log="$WORK/$venv-$(echo "$what" | tr -c 'a-zA-Z0-9' _).log"
    mkdir -p "$WORK/run-$venv"
    pushd "$WORK/run-$venv" >/dev/null || return
    if PATH="$WORK/$venv/bin:$PATH" VIRTUAL_ENV="$WORK/$venv" "$@" >"$log" 2>&1; then
        SUMMARY+=("$(printf '%-10s %-58s %-5s %4d s' "$label" "$what" ok $((SECONDS - start)))")
    else
        SUMMARY+=("$(printf '%-10s %-58s %-5s %4d s' "$label" "$what" FAIL $((SECONDS - start)))")
        FAILED=1
        echo "---- $label: $what failed; the end of its output:"
        tail -n 40 "$log"
    fi
    popd >/dev/null || return
}

want() { [[ ",$ONLY," == *",$1,"* ]]; }

if want base; then
    CHECK_START=${START[base]} check base base 'pip install -e .' installed base
    check base base "README's Python example" python - "${SRC[base]}" <<'EOF'
import re, sys
text = open(sys.argv[1] + "/README.md", encoding="utf-8").read()
blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
assert blocks, "README.md has no ```python block"
namespace = {"__name__": "__main__"}
for block in blocks:
    exec(compile(block, "README.md", "exec"), namespace)
EOF
    check base base 'tinygrad-lm train --preset tiny' tinygrad-lm train --preset tiny --out_dir out
fi

if want test; then
    CHECK_START=${START[test]} check '[test]' test 'pip install -e ".[test]"' installed test
    check '[test]' test 'python3 -m pytest -q --collect-only (every module)' \
        python3 -m pytest -q --collect-only -p no:cacheprovider "${SRC[test]}/tests"
    check '[test]' test 'python3 -m pytest -q tests/test_autograd.py' \
        python3 -m pytest -q -p no:cacheprovider "${SRC[test]}/tests/test_autograd.py"
fi

if want lessons; then
    CHECK_START=${START[lessons]} check '[lessons]' lessons 'pip install -e ".[lessons]"' installed lessons
    check '[lessons]' lessons 'tinygrad-lm lessons export --out notebooks/' \
        tinygrad-lm lessons export --out notebooks
    check '[lessons]' lessons 'lesson 02 as a notebook (quick mode, a Jupyter kernel)' \
        env LESSONS_QUICK=1 python - <<'EOF'
import glob
import nbclient
import nbformat
path = glob.glob("notebooks/02_*.ipynb")[0]
nb = nbformat.read(path, as_version=4)
nbclient.NotebookClient(nb, timeout=600, kernel_name="python3").execute()
printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
assert "done" in printed, printed[-2000:]
EOF
fi

if want docs; then
    CHECK_START=${START[docs]} check '[docs]' docs 'pip install -e ".[docs]"' installed docs
    check '[docs]' docs 'mkdocs build --strict' \
        env NO_MKDOCS_2_WARNING=1 mkdocs build --strict -f "$ROOT/mkdocs.yml" -d "$WORK/site"
fi

echo
printf '%-10s %-58s %-5s %6s\n' extra command result time
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
