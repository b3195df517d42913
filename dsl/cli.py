"""The `sym` command: run, check, explain, trace, devices.

Exit status: 0 success, 1 the program has errors (or failed while running),
2 usage errors (a missing file, a bad flag). User errors never show a Python
traceback; set SYM_DEBUG=1 to see one for an internal error.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from .diagnostics import SymError

EPILOG = """examples:
  sym run programs/mnist_logreg.sym            train the flagship model
  sym run model.sym --backend numpy --set epochs=1
  sym check programs/*.sym                     type-check without running
  sym explain programs/mnist_logreg.sym train  the IR before/after rewrites
  sym trace programs/hello.sym                 every intermediate value
  sym devices                                  OpenCL platforms and devices
  sym bench mnist_logreg --repeats 5           epoch times vs numpy and PyTorch

environment: SYM_BACKEND, SYM_DEVICE choose the backend and device;
SYM_DATA is where mnist() looks for the MNIST files (SYM_DATA/mnist)."""


class UsageError(Exception):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sym", description="Run and inspect .sym programs.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run a program", description="Run a .sym program.")
    run.add_argument("file", help="the .sym program")
    add_backend_flags(run)
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                     help="override an `option` of the program (repeatable)")
    run.add_argument("--nan-check", action="store_true",
                     help="stop at the first NaN/Inf and name the line that made it")
    run.add_argument("--no-rewrites", action="store_true", help="run the IR without the rewrite pipeline")
    run.add_argument("--plot", metavar="FILE.png", help="plot each recorded series (needs matplotlib)")
    run.add_argument("--metrics", metavar="FILE.csv", help="write the recorded series as CSV")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("-v", "--verbose", action="store_true", help="report the backend and device, and calls whose value is not computed")

    check = sub.add_parser("check", help="type-check programs without running them",
                           description="Print each def's signature and each shared value's type, "
                           "then the diagnostics. Exit 1 when a program has errors.")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")

    ex = sub.add_parser("explain", help="show the IR before and after each rewrite",
                        description="Show a def's IR before and after the rewrite pipeline, "
                        "the rewrite log, and (--kernels) the generated OpenCL kernels.")
    ex.add_argument("file")
    ex.add_argument("def_name", nargs="?", metavar="DEF", help="the def to explain (default: all)")
    ex.add_argument("--after", metavar="PASS", help="stop the pipeline after this pass")
    ex.add_argument("--kernels", action="store_true", help="also show the OpenCL kernels")
    add_backend_flags(ex)

    tr = sub.add_parser("trace", help="run on numpy and print every intermediate value",
                        description="Run the program on the numpy backend and print, for every IR "
                        "node of each call, its source line, op, type and a value summary.")
    tr.add_argument("file")
    tr.add_argument("--def", dest="def_name", metavar="NAME", help="trace only calls of this def")
    tr.add_argument("--calls", type=int, default=1, metavar="K",
                    help="trace the first K calls of each def (default 1)")
    tr.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")

    sub.add_parser("devices", help="list OpenCL platforms and devices")

    bench = sub.add_parser("bench", help="run a benchmark script from bench/ (source checkout)",
                           description="Run bench/NAME.py (default mnist_logreg) with the given "
                           "arguments; it prints a table of medians and ratios.")
    bench.add_argument("name", nargs="?", default="mnist_logreg",
                       help="mnist_logreg, matmul or compile_time")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    return p


def add_backend_flags(p):
    p.add_argument("--backend", choices=("numpy", "opencl"),
                   help="execution backend (default: $SYM_BACKEND, else opencl where a device exists, else numpy)")
    p.add_argument("--device", metavar="DEV",
                   help="OpenCL device: cpu, gpu or P:D (default: $SYM_DEVICE, else a GPU if present, else the CPU)")


def parse_sets(items) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"--set expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        out[name.strip()] = value.strip()
    return out


def read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}")
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a .sym file")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}")


def cmd_check(args) -> int:
    from .program import check_source
    options = parse_sets(args.set)
    failed = False
    for path in args.files:
        prog = check_source(read(path), path, options)
        for name, t in prog.shareds.items():
            print(f"shared {name}: {t}")
        for sig in prog.signatures.values():
            print(sig)
        for d in prog.diagnostics:
            print(d.render() + "\n", file=sys.stderr)
        failed |= bool(prog.errors)
        status = f"{len(prog.errors)} error(s), {len(prog.warnings)} warning(s)"
        print(f"{path}: {'ok' if not prog.errors else 'failed'} ({status})", file=sys.stderr)
    return 1 if failed else 0


def cmd_run(args) -> int:
    from .api import compile
    progress = False if args.no_progress else None
    prog = compile(read(args.file), args.file, backend=args.backend, device=args.device,
                   options=parse_sets(args.set), rewrites=not args.no_rewrites,
                   nan_check=args.nan_check, progress=progress)
    if args.verbose:
        print(f"sym: backend {prog.backend}: {prog.device}", file=sys.stderr)
        prog._interp.report = lambda message: print(f"sym: {message}", file=sys.stderr)
    check_metrics_targets(args)
    try:
        prog.run()
    except BaseException as exc:
        write_metrics(prog, args, exc)
        raise
    write_metrics(prog, args)
    return 0


def check_metrics_targets(args):
    """Refuse a --metrics/--plot path that may not be written (a FIFO, the
    program itself) before the program runs, not after hours of training."""
    from runtime.data import DataError
    from runtime.data.files import check_target
    from .diagnostics import error
    for path, what in ((args.metrics, "metrics"), (args.plot, "plot")):
        try:
            if path:
                check_target(path, what, args.file)
        except DataError as exc:
            raise error(exc.code, exc.message, None, exc.hint)


def write_metrics(prog, args, program_error=None):
    """Write --metrics and --plot. A failed write is shown beside the
    program's own error, never instead of it."""
    from runtime.data import DataError
    from .diagnostics import Diagnostic
    failures = []
    for path, write in ((args.metrics, prog.metrics.write_csv), (args.plot, prog.metrics.plot)):
        try:
            if path:
                write(path, args.file)
        except DataError as exc:
            failures.append(Diagnostic(exc.code, exc.message, None, hint=exc.hint))
    if not failures:
        return
    if program_error is None:
        raise SymError(failures)
    if isinstance(program_error, SymError):
        raise SymError(program_error.diagnostics + failures) from None
    print(SymError(failures), file=sys.stderr)  # main reports an interrupt or a bug after it


def cmd_explain(args) -> int:
    from .api import compile
    prog = compile(read(args.file), args.file, backend=args.backend or ("opencl" if args.kernels else "numpy"),
                   device=args.device)
    if args.def_name and args.def_name not in prog.signatures:
        raise UsageError(f"{args.file} has no def `{args.def_name}` "
                         f"(defs: {', '.join(prog.signatures) or 'none'})")
    print(prog.explain(args.def_name, after=args.after, kernels=args.kernels))
    return 0


def cmd_trace(args) -> int:
    from runtime.trace import trace_file
    return trace_file(args.file, read(args.file), parse_sets(args.set), args.def_name, args.calls)


def cmd_devices(args) -> int:
    from runtime.opencl.device import describe_devices
    print(describe_devices())
    return 0


def cmd_bench(args) -> int:
    import subprocess
    script = Path(__file__).resolve().parent.parent / "bench" / f"{args.name}.py"
    if not script.is_file():
        raise UsageError(f"no benchmark {script} (the bench/ scripts ship with the source checkout)")
    return subprocess.call([sys.executable, str(script), *args.args])


COMMANDS = {"bench": cmd_bench, "check": cmd_check, "run": cmd_run, "explain": cmd_explain,
            "trace": cmd_trace, "devices": cmd_devices}


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"sym {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except SymError as exc:
        sys.stdout.flush()
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sym: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:    # a bug in sym, not in the user's program
        if os.environ.get("SYM_DEBUG"):
            traceback.print_exc()
        print(f"error[E9999]: internal error: {type(exc).__name__}: {exc}\n"
              " = help: this is a bug in sym; rerun with SYM_DEBUG=1 for the traceback",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
