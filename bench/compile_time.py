"""Cold and warm OpenCL compile times of the MNIST logistic regression program.

    python bench/compile_time.py [--program programs/mnist_logreg.sym] [--repeats 3]

Each measurement is a fresh Python process (a subprocess) that checks the
program, makes an OpenCL executor and calls each def once with random
arguments (batches of 600): first the defs the program's own statements
call (train and errors), then the others. Per def it times rendering the
OpenCL C, the OpenCL build, and the first launch (pocl compiles each
kernel's work-group function then) up to the results being on the host.
The headline is the sum over the defs the program calls.

  cold  XDG_CACHE_HOME is a new empty folder, POCL_CACHE_DIR unset (so sym
        keeps its kernel cache there): nothing is cached
  warm  the same folder again: the kernel cache is full
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from dsl.api import compile_functions
from dsl.program import check_source
from runtime.opencl.executor import OpenCLExecutor
from runtime.opencl import render
t_import = time.perf_counter() - t0
prog = check_source(open(sys.argv[1]).read(), sys.argv[1])
prog.raise_errors()
fns, _ = compile_functions(prog)
ex = OpenCLExecutor(prog.shareds)
rng = np.random.default_rng(0)
report = {"import_s": t_import, "defs": {}}


def host_calls(node, names, found):
    # defs called by the program's top-level statements, in order
    import dataclasses
    from dsl import ast as A
    if isinstance(node, A.Call) and node.func.id in names and node.func.id not in found:
        found.append(node.func.id)
    if dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            host_calls(getattr(node, f.name), names, found)
    elif isinstance(node, (tuple, list)):
        for item in node:
            host_calls(item, names, found)
    return found


from dsl import ast as A
called = host_calls(tuple(i for i in prog.ast.items if not isinstance(i, A.Def)), set(fns), [])
order = called + [n for n in fns if n not in called]
report["called"] = called
for name in order:
    fn = fns[name]
    args = []
    for p in fn.params:
        shape = tuple(d if isinstance(d, int) else 600 for d in p.type.shape)
        if p.type.dtype.startswith("f"):
            args.append(rng.random(shape).astype(p.type.dtype.replace("f", "float")))
        else:
            args.append(rng.integers(0, 10, shape).astype(p.type.dtype.replace("i", "int")))
    sizes = {}
    for p, a in zip(fn.params, args):
        for d, v in zip(p.type.shape, a.shape):
            if not isinstance(d, int):
                sizes[d.single_var()] = v
    t = time.perf_counter()
    plan = render.render_function(fn, ex.options)
    t_render = time.perf_counter() - t
    builds = ex.stats["build_seconds"]
    t = time.perf_counter()
    outs = ex.call(fn, args, sizes)
    [np.asarray(o) for o in outs]
    ex.get_shared(next(iter(prog.shareds))) if prog.shareds else None
    t_total = time.perf_counter() - t
    t_build = ex.stats["build_seconds"] - builds
    report["defs"][name] = {"render_s": t_render, "build_s": t_build,
                            "first_launch_s": t_total - t_build, "total_s": t_total + t_render,
                            "kernels": len(plan.kernels)}
print(json.dumps(report))
"""


def run_child(program: Path, cache: Path) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), PYTHONPATH=str(ROOT))
    env.pop("POCL_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", CHILD, str(program)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def show(label: str, report: dict) -> float:
    """Prints every def; returns the time of the defs the program calls
    (compiled first, in the order it calls them), or of all defs."""
    total = run = 0.0
    called = report["called"] or list(report["defs"])
    for name, d in report["defs"].items():
        total += d["total_s"]
        run += d["total_s"] if name in called else 0.0
        print(f"  {label:5s} {name:14s} kernels {d['kernels']:2d}  render {1e3 * d['render_s']:6.1f} ms"
              f"  build {1e3 * d['build_s']:7.1f} ms  first launch {1e3 * d['first_launch_s']:7.1f} ms"
              f"  total {1e3 * d['total_s']:7.1f} ms")
    print(f"  {label:5s} the defs the program calls ({', '.join(called)}): {1e3 * run:.0f} ms;"
          f" all defs {1e3 * total:.0f} ms (imports {1e3 * report['import_s']:.0f} ms, not counted)")
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", default=str(ROOT / "programs" / "mnist_logreg.sym"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    program = Path(args.program)
    colds, warms = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            colds.append(show("cold", run_child(program, Path(tmp))))
            warms.append(show("warm", run_child(program, Path(tmp))))
    colds.sort()
    warms.sort()
    print(f"\n{program.name}, the defs it calls: cold {1e3 * colds[len(colds) // 2]:.0f} ms "
          f"(target < 2000), warm {1e3 * warms[len(warms) // 2]:.0f} ms (target < 300), "
          f"medians of {args.repeats}")


if __name__ == "__main__":
    main()
