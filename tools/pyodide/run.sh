#!/usr/bin/env bash
# Run the test suite on CPython 3.14 or 3.15 under Node through Pyodide.
#
#   bash tools/pyodide/run.sh 3.14 [pytest args...]
#   bash tools/pyodide/run.sh 3.15 -p no:cacheprovider -q
#
# 1. installs the pyodide npm package for that version into
#    .cache/pyodide/<npm-version>/ (once),
# 2. downloads the pure-Python wheels pinned in tools/pyodide/requirements.txt
#    into .cache/pyodide/wheels/<hash of that file>/ (once),
# 3. builds the project's wheel from a copy of the current working tree
#    (every run, so the run tests the tree as it is now),
# 4. unpacks all wheels into a fresh site folder,
# 5. runs pytest inside Pyodide with tools/pyodide/run.mjs, whose exit status
#    (pytest's) is this script's.
# Needs node (>= 18), npm and python3 with pip on PATH (PYTHON=... picks another
# interpreter for pip); works from any directory.  Set PYODIDE_KEEP_RUN=1 to
# keep the run's site folder under .cache/pyodide/run.*/ after it ends.
# For tools/projects_diff.py --pyodide (a project's own suite under Pyodide):
#   PYODIDE_WHEEL=FILE       use this pytest_bytecode wheel instead of step 3;
#   PYODIDE_EXTRA_SITE=DIR   copy DIR's contents into the site folder after
#                            step 4 (the project, its test helpers);
#   PYODIDE_CWD=DIR          Pyodide's working directory (run.mjs --cwd).
set -euo pipefail

die() { echo "tools/pyodide/run.sh: error: $*" >&2; exit 3; }

usage="usage: bash tools/pyodide/run.sh 3.14|3.15 [pytest args...]"
[ $# -ge 1 ] || die "$usage"
minor="$1"
shift
case "$minor" in
    3.14) npm_version="314.0.7" ;;            # CPython 3.14.2
    3.15) npm_version="315.0.0-alpha.2" ;;    # CPython 3.15.0rc1
    *) die "unsupported version '$minor'; $usage" ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="$root/.cache/pyodide"
python="${PYTHON:-python3}"

command -v node >/dev/null || die "node not found on PATH"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "node >= 18 is needed, found $(node --version)"
command -v npm >/dev/null || die "npm not found on PATH"
command -v "$python" >/dev/null || die "$python not found on PATH"
mkdir -p "$cache"

# Steps 1 and 2 fill shared caches: one run at a time.
if command -v flock >/dev/null; then
    exec 9>"$cache/.lock"
    flock 9
fi

# 1. Pyodide from the npm registry.
pyodide_dir="$cache/$npm_version/node_modules/pyodide"
if [ ! -f "$pyodide_dir/pyodide.asm.wasm" ] || [ ! -f "$pyodide_dir/python_stdlib.zip" ]; then
    echo "tools/pyodide/run.sh: installing pyodide@$npm_version into $cache/$npm_version" >&2
    rm -rf "$cache/$npm_version"
    npm install --prefix "$cache/$npm_version" "pyodide@$npm_version" \
        --no-audit --no-fund --loglevel=error >&2 \
        || die "npm install pyodide@$npm_version failed"
    [ -f "$pyodide_dir/pyodide.mjs" ] || die "npm install did not produce $pyodide_dir/pyodide.mjs"
fi

# 2. Pinned pure-Python wheels from PyPI, cached per content of requirements.txt.
reqs="$here/requirements.txt"
[ -f "$reqs" ] || die "$reqs not found"
reqs_hash="$("$python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest()[:16])' "$reqs")"
wheels="$cache/wheels/$reqs_hash"
if [ ! -f "$wheels/.complete" ]; then
    echo "tools/pyodide/run.sh: downloading wheels from $reqs into $wheels" >&2
    rm -rf "$wheels" && mkdir -p "$wheels"
    "$python" -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: --platform any --implementation py --abi none \
        --python-version "$minor" --require-hashes -r "$reqs" -d "$wheels" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2) \
        || die "pip download of $reqs failed (is PyPI reachable?)"
    touch "$wheels/.complete"
fi

if command -v flock >/dev/null; then
    flock -u 9
    exec 9>&-
fi

# Scratch space for this run (source copy, wheel, site folder), removed on
# exit unless PYODIDE_KEEP_RUN=1 (to read the files a traceback points at).
run_dir="$(mktemp -d "$cache/run.XXXXXX")"
if [ "${PYODIDE_KEEP_RUN:-0}" = 1 ]; then
    echo "tools/pyodide/run.sh: keeping $run_dir" >&2
else
    trap 'rm -rf "$run_dir"' EXIT
fi

# 3. The project's wheel, built from a copy of the working tree (untracked
#    files included) so setuptools' build/ and *.egg-info never leak stale files
#    into the wheel and nothing is written into the checkout.
if [ -n "${PYODIDE_WHEEL:-}" ]; then
    [ -f "$PYODIDE_WHEEL" ] || die "PYODIDE_WHEEL $PYODIDE_WHEEL is not a file"
    project_wheels=("$PYODIDE_WHEEL")
else
    src="$run_dir/src"
    mkdir -p "$src" "$run_dir/dist"
    tar -C "$root" -cf - \
        --exclude=./.git --exclude=./.cache --exclude=./.venv --exclude=./build \
        --exclude=./dist --exclude='*.egg-info' --exclude=__pycache__ \
        --exclude=.pytest_cache --exclude=.mypy_cache --exclude=.ruff_cache \
        --exclude=node_modules . | tar -C "$src" -xf - \
        || die "could not copy $root to $src"
    build_log="$run_dir/build.log"
    # Build isolation: pip installs the build backend that pyproject.toml asks
    # for, whatever setuptools python3 happens to have.
    "$python" -m pip wheel --no-deps --disable-pip-version-check \
        -w "$run_dir/dist" "$src" >"$build_log" 2>&1 \
        || { cat "$build_log" >&2; die "building the project wheel failed (log above)"; }
    project_wheels=("$run_dir/dist"/pytest_bytecode-*.whl)
    [ -f "${project_wheels[0]}" ] || die "no pytest_bytecode wheel in $run_dir/dist"
fi

# 4. Unpack every wheel into a fresh site folder (wheels are zip files; the
#    .data/purelib|platlib parts of a wheel belong at the top of site-packages).
site_dir="$run_dir/site"
"$python" - "$site_dir" "$wheels"/*.whl "${project_wheels[@]}" <<'PY' \
    || die "unpacking wheels into $site_dir failed"
import os, shutil, sys, zipfile
site, wheels = sys.argv[1], sys.argv[2:]
os.makedirs(site)
for whl in wheels:
    with zipfile.ZipFile(whl) as z:
        z.extractall(site)
for entry in os.listdir(site):
    if entry.endswith(".data"):
        for scheme in ("purelib", "platlib"):
            part = os.path.join(site, entry, scheme)
            if os.path.isdir(part):
                shutil.copytree(part, site, dirs_exist_ok=True)
        shutil.rmtree(os.path.join(site, entry))
PY

if [ -n "${PYODIDE_EXTRA_SITE:-}" ]; then
    [ -d "$PYODIDE_EXTRA_SITE" ] || die "PYODIDE_EXTRA_SITE $PYODIDE_EXTRA_SITE is not a directory"
    cp -a "$PYODIDE_EXTRA_SITE"/. "$site_dir"/ || die "copying $PYODIDE_EXTRA_SITE failed"
fi

# 5. Run pytest inside Pyodide; the status is pytest's.
cwd_opt=()
if [ -n "${PYODIDE_CWD:-}" ]; then
    cwd_opt=(--cwd "$PYODIDE_CWD")
fi
status=0
node "$here/run.mjs" --pyodide "$pyodide_dir" --site "$site_dir" --root "$root" \
    "${cwd_opt[@]}" -- "$@" || status=$?
exit "$status"
