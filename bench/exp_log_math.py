"""The cost of the OpenCL backend's f32 exp/log/tanh variants on the MNIST
tutorials' training steps: the default (exp, log, log1p inline, computed
in double, correctly rounded but in rare near-ties; tanh pocl's, inline), fast
math (inline f32 polynomials, up to 2 ulp off; `sym run --fast-math`) and
the OpenCL builtins for all four (what pocl calls out of line; the default before
this bench existed).

    SYM_DATA=../shared/data .venv/bin/python bench/exp_log_math.py [--rounds 5]

What is timed: per program, `--minibatches` training steps (logreg: 600
rows, MLP: 20 rows, LeNet: 500 rows), after the last the first shared is
read back. Each variant has its own module, compiled before timing; the
rounds run the variants interleaved (a rotated order each round), and the
table gives medians and the ratio to the default. The builtin variant
has no 8-lane softmax rows (they exist for the inline exp).
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, ensure_repo_on_path, fmt_ratio, machine_lines, median, opencl_devices, rotated, table, timed  # noqa: E402,E501

ensure_repo_on_path()

PROGRAMS = {            # name -> (file, minibatch rows, default minibatches timed)
    "logreg": ("mnist_logreg.sym", 600, 83),
    "mlp": ("mnist_mlp.sym", 20, 500),
    "lenet": ("mnist_lenet.sym", 500, 4),
}
# variant -> (fast_math, the functions computed by builtins instead of helpers)
VARIANTS = {
    "default": (False, ()),
    "fast": (True, ()),
    "builtins": (False, ("exp", "log", "log1p", "tanh")),
}


def load(program: str, variant: str):
    import dsl
    options = {"epochs": 0}
    png = None
    if program == "lenet":
        png = tempfile.NamedTemporaryFile(suffix=".png")
        options["filters_png"] = png.name
    m = dsl.load(REPO / "programs" / PROGRAMS[program][0], backend="opencl", options=options,
                 out=io.StringIO(), progress=False)
    ex = m._executor
    ex.options = dataclasses.replace(ex.options, fast_math=VARIANTS[variant][0])
    m.run()
    KEEP.append(png)
    return m


KEEP = []    # the LeNet filter pictures' temporary files, alive to the end


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--programs", default=",".join(PROGRAMS))
    ap.add_argument("--minibatches", default="", help="e.g. lenet=4,mlp=500")
    args = ap.parse_args(argv)
    counts = {p: PROGRAMS[p][2] for p in PROGRAMS}
    for item in filter(None, args.minibatches.split(",")):
        name, n = item.split("=")
        counts[name] = int(n)
    from runtime.data import mnist
    from runtime.opencl import lowering, render
    data = mnist()
    print("\n".join(machine_lines({"OpenCL": opencl_devices()})))
    rows = []
    for program in args.programs.split(","):
        rows_n, count = PROGRAMS[program][1], counts[program]
        batches = [(data.train.x[i * rows_n:(i + 1) * rows_n], data.train.y[i * rows_n:(i + 1) * rows_n])
                   for i in range(count)]
        first_shared = {"logreg": "W", "mlp": "W1", "lenet": "W0"}[program]
        runs, times = {}, {v: [] for v in VARIANTS}

        def epoch(m):
            for x, y in batches:
                m.train(x, y)
            return getattr(m, first_shared)

        for v in VARIANTS:
            m = load(program, v)
            real = lowering.math_helper
            builtin = VARIANTS[v][1]
            # kernels are rendered at a def's first call: these with builtins
            lowering.math_helper = lambda k, n, name: None if name in builtin else real(k, n, name)
            real_lanes = render.lanes_fit        # the 8-lane rows exist for the inline exp only
            if builtin:
                render.lanes_fit = lambda root, options: False
            epoch(m)                              # compiles the kernels
            lowering.math_helper, render.lanes_fit = real, real_lanes
            runs[v] = m
        for k in range(args.rounds):
            for v in rotated(list(VARIANTS), k):
                times[v].append(timed(epoch, runs[v])[0])
        base = median(times["default"])
        for v in VARIANTS:
            t = median(times[v])
            rows.append([program, str(count), v, f"{t * 1000:.0f} ms", fmt_ratio(t / base),
                         " ".join(f"{s * 1000:.0f}" for s in times[v])])
    print(f"{args.rounds} interleaved rounds; median time of the minibatches, ratio to the default\n")
    print(table(["program", "minibatches", "exp/log", "median", "ratio", "all rounds (ms)"], rows,
                right={1, 3, 4}))


if __name__ == "__main__":
    main()
