// Run pytest in-process on CPython 3.14 / 3.15 compiled to WebAssembly (Pyodide),
// under Node.
//
// Why: those CPython versions are not installed on the project's machines, but
// the npm registry ships them as Pyodide (pyodide@314.x is CPython 3.14,
// pyodide@315.x is CPython 3.15).  Pyodide's own package CDN is not reachable,
// so nothing is installed inside Pyodide: tools/pyodide/run.sh unpacks
// pure-Python wheels from PyPI (pytest and its dependencies, coverage) and the
// project's freshly built wheel into a host folder, and this script mounts that
// folder and the repository into Pyodide's filesystem with NODEFS, puts the
// folder first on sys.path (so `pytest_bytecode` and its `pytest11` entry point
// come from the wheel, never from the source tree) and calls pytest.main().
//
// Do not run this file by hand; run one version locally with
//     bash tools/pyodide/run.sh 3.14 -q            # or 3.15
//     bash tools/pyodide/run.sh 3.15 tests/test_foundation.py -k version
// which prepares the folders and then calls
//     node tools/pyodide/run.mjs --pyodide DIR --site DIR --root DIR -- [pytest args...]
//   --pyodide  node_modules/pyodide folder of the npm package (loadPyodide indexURL)
//   --site     folder holding the unpacked wheels
//   --root     the repository, mounted at its own absolute path
//   --cwd      (optional) Pyodide's working directory, mounted too (default below)
//
// Paths: every host folder is mounted at the same absolute path inside Pyodide,
// so tracebacks show real host paths.  Pyodide's working directory is the host
// working directory when that is inside the repository, otherwise the
// repository root (relative path arguments are then resolved against the host
// working directory).  --cwd DIR sets it instead (a project's own run folder,
// so that pytest finds that project's configuration, not the repository's);
// relative path arguments are then relative to DIR.  Folders of path
// arguments outside the repository (for example /tmp/test_x.py) are mounted
// too.  tmp_path and pytester work in Pyodide's in-memory /tmp.
//
// Output is written straight to the process's stdout/stderr as pytest writes
// it.  Exit status: pytest's own (0 passed, 1 tests failed, 2 interrupted,
// 3 internal error, 4 usage error, 5 no tests collected); 3 also when this
// runner fails (Pyodide does not load, a mount fails, or `pytest_bytecode` was
// imported from somewhere other than the site folder).
//
// Limits of Pyodide that the test suite must skip (versions.IS_PYODIDE):
// no subprocesses, no threads, no pytest-xdist.

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const RUNNER_ERROR = 3;

function die(msg) {
  process.stderr.write(`run.mjs: error: ${msg}\n`);
  process.exit(RUNNER_ERROR);
}

function parseArgs(argv) {
  const opts = { pyodide: null, site: null, root: null, cwd: null, pytest: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      i++;
      break;
    }
    const key = a.replace(/^--/, "");
    if (!["pyodide", "site", "root", "cwd"].includes(key) || i + 1 >= argv.length) {
      die(`unknown or incomplete option ${JSON.stringify(a)}; usage: ` +
          "node run.mjs --pyodide DIR --site DIR --root DIR [--cwd DIR] -- [pytest args...]");
    }
    opts[key] = argv[++i];
  }
  opts.pytest = argv.slice(i);
  for (const key of ["pyodide", "site", "root", "cwd"]) {
    if (!opts[key]) {
      if (key === "cwd") continue;
      die(`--${key} DIR is required`);
    }
    if (!fs.existsSync(opts[key]) || !fs.statSync(opts[key]).isDirectory()) {
      die(`--${key} ${opts[key]} is not a directory`);
    }
    opts[key] = fs.realpathSync(opts[key]);
  }
  return opts;
}

// Write all of buf to fd, synchronously so that output keeps its order and
// nothing is lost at process.exit().  Pipes may be non-blocking: retry EAGAIN.
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function writeAll(fd, buf) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== "EAGAIN") throw e;
      Atomics.wait(sleepCell, 0, 0, 2);
    }
  }
  return buf.length;
}

function isInside(child, parent) {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

// Options whose separate value is never a path (so "-k tests" stays as it is).
const VALUE_OPTIONS = new Set(["-k", "-m", "-p", "-o", "-W", "-r", "--tb", "--deselect"]);

// Return [pyodideCwd, rewritten pytest args, host dirs that must be mounted].
function planPaths(opts) {
  const hostCwd = opts.cwd ?? fs.realpathSync(process.cwd());
  const keepCwd = opts.cwd !== null || isInside(hostCwd, opts.root);
  const pyCwd = keepCwd ? hostCwd : opts.root;
  const dirs = [opts.root, opts.site];
  if (opts.cwd !== null) dirs.push(opts.cwd);
  const args = [];
  for (let i = 0; i < opts.pytest.length; i++) {
    const arg = opts.pytest[i];
    args.push(arg);
    if (VALUE_OPTIONS.has(arg)) {
      if (i + 1 < opts.pytest.length) args.push(opts.pytest[++i]);
      continue;
    }
    let prefix = "";
    let value = arg;
    if (arg.startsWith("-")) {
      const eq = arg.indexOf("=");
      if (!arg.startsWith("--") || eq < 0) continue;
      prefix = arg.slice(0, eq + 1);
      value = arg.slice(eq + 1);
    }
    const sep = value.indexOf("::");
    const fsPart = sep < 0 ? value : value.slice(0, sep);
    if (!fsPart) continue;
    const abs = path.resolve(hostCwd, fsPart);
    if (!fs.existsSync(abs)) continue;
    const real = fs.realpathSync(abs);
    dirs.push(fs.statSync(real).isDirectory() ? real : path.dirname(real));
    if (!keepCwd && !path.isAbsolute(fsPart)) {
      args[args.length - 1] = prefix + abs + (sep < 0 ? "" : value.slice(sep));
    }
  }
  // Keep only outermost folders, shortest first, so no mount hides another.
  const unique = [...new Set(dirs)].sort((a, b) => a.length - b.length);
  const mounts = [];
  for (const d of unique) {
    if (!mounts.some((m) => isInside(d, m))) mounts.push(d);
  }
  return [pyCwd, args, mounts];
}

// Environment seen by Python: Pyodide starts with an empty one.  Pass only what
// changes pytest's or the project's behaviour (PDIFF_: the settings of
// tools/projects/pdiff_recorder.py), never PYTHONPATH/PYTHONHOME.
function pythonEnv() {
  const keep = new Set([
    "CI", "COLUMNS", "LINES", "TERM", "NO_COLOR", "FORCE_COLOR", "PY_COLORS",
    "PYTHONHASHSEED", "PYTHONWARNINGS", "PYTHONFAULTHANDLER", "TZ", "LANG", "LC_ALL",
  ]);
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (keep.has(k) || /^(PYTEST_|COVERAGE_|BYTECODE_|PDIFF_)/.test(k)) env[k] = v;
  }
  return env;
}

const PY_MAIN = String.raw`
import json, os, site, sys

def _runner_main(cfg_json):
    cfg = json.loads(cfg_json)
    site_dir = cfg["site"]
    # site.addsitedir also runs the wheels' .pth files, as a real install would;
    # then the folder goes first so nothing can shadow it.
    site.addsitedir(site_dir)
    sys.path[:] = [site_dir] + [p for p in sys.path if p not in (site_dir, "", ".", cfg["root"])]
    os.chdir(cfg["cwd"])
    sys.argv[:] = ["pytest", *cfg["args"]]

    import importlib.metadata as md
    eps = [ep for ep in md.entry_points(group="pytest11") if ep.name == "bytecode"]
    where = [str(ep.dist.locate_file("")) if ep.dist else "?" for ep in eps]
    if not eps or not all(w.rstrip("/") == site_dir for w in where):
        print(f"run.mjs: error: pytest11 entry point 'bytecode' not found in {site_dir} "
              f"(found: {where})", file=sys.stderr)
        return 3

    import platform, pyodide
    print(f"pyodide runner: CPython {platform.python_version()} in Pyodide {pyodide.__version__}"
          f" ({sys.platform}), site {site_dir}", flush=True)
    import pytest
    code = int(pytest.main(list(cfg["args"])))
    sys.stdout.flush()
    sys.stderr.flush()

    wrong = sorted(
        f"{name} from {getattr(mod, '__file__', None)}"
        for name, mod in list(sys.modules.items())
        if (name == "pytest_bytecode" or name.startswith("pytest_bytecode."))
        and getattr(mod, "__file__", None)
        and not mod.__file__.startswith(site_dir + "/")
    )
    if wrong:
        print("run.mjs: error: pytest_bytecode was not imported from the site folder: "
              + "; ".join(wrong), file=sys.stderr)
        return code or 3
    return code
`;

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const [pyCwd, pytestArgs, mounts] = planPaths(opts);

  const entry = path.join(opts.pyodide, "pyodide.mjs");
  if (!fs.existsSync(entry)) die(`${entry} not found (is the pyodide npm package installed?)`);
  const { loadPyodide } = await import(pathToFileURL(entry).href);
  const pyodide = await loadPyodide({ indexURL: opts.pyodide + "/", env: pythonEnv() });

  const tty = (stream) => ({
    isatty: Boolean(stream.isTTY),
    getTerminalSize: () => (stream.isTTY ? { rows: stream.rows, columns: stream.columns } : undefined),
  });
  pyodide.setStdout({ write: (buf) => writeAll(1, buf), ...tty(process.stdout) });
  pyodide.setStderr({ write: (buf) => writeAll(2, buf), ...tty(process.stderr) });
  pyodide.setStdin({ error: true });

  const FS = pyodide.FS;
  for (const hostDir of mounts) {
    try {
      FS.mkdirTree(hostDir);
      FS.mount(FS.filesystems.NODEFS, { root: hostDir }, hostDir);
    } catch (e) {
      die(`cannot mount ${hostDir} into Pyodide with NODEFS: ${e}`);
    }
  }

  pyodide.runPython(PY_MAIN);
  const runnerMain = pyodide.globals.get("_runner_main");
  const cfg = JSON.stringify({ site: opts.site, root: opts.root, cwd: pyCwd, args: pytestArgs });
  let code;
  try {
    code = runnerMain(cfg);
  } catch (e) {
    // A Python exception that escaped pytest.main (PythonError has the traceback).
    process.stderr.write(`run.mjs: error: Python raised:\n${e.message ?? e}\n`);
    code = RUNNER_ERROR;
  }
  process.exit(Number.isInteger(code) ? code : RUNNER_ERROR);
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
