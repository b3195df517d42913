"""The `sym` command: run, check, explain, trace, devices.

Exit status: 0 success, 1 the program has errors (or failed while running),
2 usage errors (a missing file, a bad flag or flag value, an unknown backend,
device or rewrite pass), 130 interrupted (Ctrl-C). User errors never show a
Python traceback, and warnings of the libraries sym uses (numpy's
RuntimeWarnings...) are not shown: sym reports what matters itself. Set
SYM_DEBUG=1 to see both for an internal error.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import traceback
import warnings
from pathlib import Path

from runtime import parallel
from runtime.data import DataError
from runtime.data.files import check_target
from runtime.opencl.device import describe_devices

from . import terminal
from .api import compile
from . import errors
from .diagnostics import SymError
from .explain import explain_ranks
from .launch import launch
from .parallel import plan_def
from .program import check_source
from .scope import did_you_mean
from .trace import trace_file

EPILOG = """examples:
  sym run programs/mnist_logreg.sym            train the flagship model
  sym run model.sym --backend numpy --set epochs=1
  sym check programs/*.sym                     type-check without running
  sym explain programs/mnist_logreg.sym train  the IR before/after rewrites
  sym trace programs/hello.sym                 every intermediate value
  sym devices                                  OpenCL platforms and devices
  sym lsp                                      the language server, for editors
  sym bench mnist_logreg --repeats 5           epoch times vs numpy and PyTorch

FILE may be `-` to read the program from standard input.
exit status: 0 ok, 1 the program has errors or failed, 2 usage error, 130 interrupted.
environment: SYM_BACKEND, SYM_DEVICE choose the backend and device;
SYM_DATA is where mnist() looks for the MNIST files (SYM_DATA/mnist)."""

RUN_EPILOG = """examples:
  sym run programs/mnist_logreg.sym --backend numpy --set epochs=1
  sym run model.sym --metrics loss.csv --plot loss.png
  sym run model.sym --nan-check        find the line that makes the first NaN
  cat model.sym | sym run -"""

CHECK_EPILOG = """examples:
  sym check programs/*.sym
  sym check model.sym --set epochs=5   check the program with an option overridden

Every FILE is checked, also after one fails. Exit status: 0 when all are
clean, 1 when one has errors, 2 when one cannot be read."""

EXPLAIN_EPILOG = """examples:
  sym explain programs/mnist_logreg.sym train
  sym explain programs/mnist_logreg.sym train --after cse
  sym explain programs/mnist_logreg.sym train --kernels   (OpenCL)"""

TRACE_EPILOG = """examples:
  sym trace programs/hello.sym
  sym trace programs/mnist_logreg.sym --def train --calls 2 --set epochs=1"""

STDIN = "-"             # as FILE: read the program from standard input
STDIN_NAME = "<stdin>"  # its name in diagnostics


class UsageError(Exception):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sym", description="Run and inspect .sym programs.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run a program", epilog=RUN_EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         description="Check a .sym program, compile its defs for the backend,\n"
                         "and run its host statements in order.")
    run.add_argument("file", metavar="FILE", help="the .sym program (`-`: standard input)")
    add_backend_flags(run)
    add_set_flag(run)
    add_color_flag(run)
    run.add_argument("--nan-check", action="store_true",
                     help="stop at the first NaN/Inf and name the line that made it")
    run.add_argument("--no-rewrites", action="store_true", help="run the IR without the rewrite pipeline")
    add_fast_math_flag(run)
    run.add_argument("--plot", metavar="FILE.png", help="plot each recorded series (needs matplotlib)")
    run.add_argument("--metrics", metavar="FILE.csv", help="write the recorded series as CSV")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("-v", "--verbose", action="store_true", help="report the backend and device, and calls whose value is not computed")
    run.add_argument("--ranks", type=positive_int, metavar="K",
                     help="train data parallel on K processes: launches `mpiexec -n K` "
                     "(as `mpiexec -n K sym run FILE` does); $SYM_MPIEXEC names another launcher")

    check = sub.add_parser("check", help="type-check programs without running them",
                           epilog=CHECK_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           description="Check programs without running anything: print each shared\n"
                           "value's type and each def's signature on standard output, then\n"
                           "the diagnostics and a summary line per file on standard error.")
    check.add_argument("files", nargs="+", metavar="FILE",
                       help="the .sym programs (`-`: standard input)")
    add_set_flag(check)
    add_color_flag(check)

    ex = sub.add_parser("explain", help="show the IR before and after each rewrite",
                        epilog=EXPLAIN_EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Show a def's IR before and after the rewrite pipeline, the\n"
                        "rewrite log, and (--kernels) the generated OpenCL kernels.")
    ex.add_argument("file", metavar="FILE", help="the .sym program (`-`: standard input)")
    ex.add_argument("def_name", nargs="?", metavar="DEF", help="the def to explain (default: all)")
    ex.add_argument("--after", metavar="PASS",
                    help="stop the pipeline after this pass (fold, simplify, stabilize, cse, dce)")
    ex.add_argument("--kernels", action="store_true",
                    help="also show the OpenCL kernels (uses the OpenCL backend)")
    add_fast_math_flag(ex)
    ex.add_argument("--ranks", type=positive_int, metavar="K",
                    help="show how each def runs data parallel on K ranks: the rows each rank "
                    "takes, the compute function, where the all-reduce goes, the apply function")
    add_backend_flags(ex)
    add_color_flag(ex)

    tr = sub.add_parser("trace", help="run on numpy and print every intermediate value",
                        epilog=TRACE_EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Run the program on the numpy backend and print, for every IR\n"
                        "node of each call, its source line, op, type and a value summary.")
    tr.add_argument("file", metavar="FILE", help="the .sym program (`-`: standard input)")
    tr.add_argument("--def", dest="def_name", metavar="NAME", help="trace only calls of this def")
    tr.add_argument("--calls", type=positive_int, default=1, metavar="K",
                    help="trace the first K calls of each def (default 1)")
    add_set_flag(tr)
    add_color_flag(tr)

    sub.add_parser("lsp", help="the language server (LSP on stdio) for editors",
                   description="Serve the Language Server Protocol on standard input and output: "
                   "diagnostics as you type, types on hover, go to definition, completion, "
                   "the outline. docs/editors.md sets up VS Code, Neovim and Emacs.")

    sub.add_parser("devices", help="list OpenCL platforms and devices",
                   description="List the OpenCL platforms and devices, with the P:D numbers "
                   "that --device and SYM_DEVICE take.")

    bench = sub.add_parser("bench", help="run a benchmark script from bench/ (source checkout)",
                           description="Run bench/NAME.py (default mnist_logreg) with the given "
                           "arguments; it prints a table of medians and ratios.")
    bench.add_argument("name", nargs="?", default="mnist_logreg",
                       help="mnist_logreg, matmul, conv_kernels or compile_time")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    return p


def add_backend_flags(p):
    p.add_argument("--backend", choices=("numpy", "opencl"),
                   help="execution backend (default: $SYM_BACKEND, else opencl where a device exists, else numpy)")
    p.add_argument("--device", metavar="DEV",
                   help="OpenCL device: cpu, gpu or P:D as `sym devices` lists them (default: "
                   "$SYM_DEVICE, else a GPU if present, else the CPU); implies --backend opencl, "
                   "and is an error with --backend numpy")


def add_fast_math_flag(p):
    p.add_argument("--fast-math", action="store_true",
                   help="OpenCL: f32 exp, log, tanh (and sigmoid, softplus, softmax) by inline f32 "
                   "polynomials, up to 2 ulp off, sometimes faster; default: exp, log and log1p "
                   "correctly rounded, tanh within 1 ulp (pocl's own)")


def refuse_fast_math_on_numpy(args, backend: str) -> None:
    if args.fast_math and backend != "opencl":
        raise UsageError("--fast-math is for the OpenCL backend (numpy computes exp and log itself); "
                         "drop it or use --backend opencl")


def add_color_flag(p):
    p.add_argument("--color", choices=terminal.CHOICES, default="auto",
                   help="diagnostics in colour: auto (on a terminal, unless NO_COLOR is set), "
                   "always or never")


def add_set_flag(p):
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override an `option` of the program (repeatable)")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_sets(items) -> dict:
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise UsageError(f"--set expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


# No .sym program is this long; reading stops here (`sym run /dev/zero`).
MAX_SOURCE_BYTES = 64 << 20


def read(path: str) -> str:
    """The program's text (universal newlines, as Python reads files)."""
    if path == STDIN:
        return decode(read_at_most(sys.stdin.buffer, "standard input"), "standard input")
    try:
        with open(path, "rb") as f:
            return decode(read_at_most(f, path), path)
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}")
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a .sym file")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}")


def read_at_most(stream, what: str) -> bytes:
    data = stream.read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        raise UsageError(f"{what} is longer than {MAX_SOURCE_BYTES >> 20} MiB: not a .sym program")
    return data


def decode(data: bytes, what: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} is not UTF-8 text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def shown_name(path: str) -> str:
    """The file name diagnostics show."""
    return STDIN_NAME if path == STDIN else path


def cmd_check(args) -> int:
    options = parse_sets(args.set)
    failed = unreadable = False     # unreadable: a usage error (exit 2)
    for path in args.files:
        try:
            text = read(path)
        except UsageError as exc:     # report it, and check the other files
            print(f"sym check: error: {exc}", file=sys.stderr)
            unreadable = True
            continue
        prog = check_source(text, shown_name(path), options)
        for name, t in prog.shareds.items():
            print(f"shared {name}: {'stream' if name in prog.streams else t}")
        for sig in prog.signatures.values():
            print(sig)
        for d in prog.diagnostics:
            terminal.show(d.render(), end="\n\n")
        unreadable |= usage_errors(prog.errors)     # a bad --set
        failed |= bool(prog.errors)
        status = f"{len(prog.errors)} error(s), {len(prog.warnings)} warning(s)"
        print(f"{shown_name(path)}: {'ok' if not prog.errors else 'failed'} ({status})",
              file=sys.stderr)
    return 2 if unreadable else 1 if failed else 0


def cmd_run(args) -> int:
    world = parallel.world()        # this process is one of K > 1 ranks
    if world is None and args.ranks and args.ranks > 1:
        return launch(args, check_ranked(args), args.ranks)
    text = read(args.file)
    if world is not None:
        try:    # before checking: then every rank checks the same text, and fails alike
            world.refuse_differences(parallel.digest(
                text, sorted(parse_sets(args.set).items()), args.backend, args.device,
                args.no_rewrites, args.nan_check, args.fast_math), "program or options")
        except SymError:
            if world.rank:
                return 1        # rank 0 reports it
            raise
    progress = False if args.no_progress else None
    try:
        prog = compile(text, shown_name(args.file), backend=args.backend, device=args.device,
                       options=parse_sets(args.set), rewrites=not args.no_rewrites,
                       nan_check=args.nan_check, progress=progress, fast_math=args.fast_math)
    except SymError:
        if world is not None and world.rank:
            return 1            # the same error on every rank: rank 0 reports it
        raise
    refuse_fast_math_on_numpy(args, prog.backend)
    if args.verbose and (world is None or world.rank == 0):
        fast = " (fast math: f32 exp/log/tanh up to 2 ulp off)" if args.fast_math else ""
        print(f"sym: backend {prog.backend}: {prog.device}{fast}", file=sys.stderr)
        if world is not None:
            print(f"sym: data parallel on {world.size} ranks: each takes 1/{world.size} of "
                  "every minibatch; one all-reduce per training call", file=sys.stderr)
        prog._interp.report = lambda message: print(f"sym: {message}", file=sys.stderr)
    check_metrics_targets(args)
    try:
        prog.run()
    except BaseException as exc:
        if world is not None:
            world.abort(failure_text(exc))      # the others would wait for this rank forever
        write_metrics(prog, args, exc)
        raise
    if world is not None:
        same = world.same_shared_values(prog._executor, prog._checked.shareds)
        if args.verbose and world.rank == 0:
            print(f"sym: shared values bit-identical on all {world.size} ranks "
                  f"(sha256 {same})", file=sys.stderr)
    if world is None or world.rank == 0:
        write_metrics(prog, args)
    return 0


def check_ranked(args) -> str:
    """`sym run --ranks K`: the program checked and planned here, so its
    errors (those of data parallel too) come before any rank starts."""
    if args.file == STDIN:
        raise UsageError("--ranks starts K processes that each read the program: give a file, not `-`")
    text = read(args.file)
    checked = check_source(text, shown_name(args.file), parse_sets(args.set))
    checked.raise_errors()
    for info in checked.defs.values():
        plan_def(info.function, checked.gradients)
    return args.file


def failure_text(exc: BaseException) -> str:
    if isinstance(exc, SymError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return str(errors.internal_error(exc, debug_hint=False))


def check_metrics_targets(args):
    """Refuse a --metrics/--plot path that may not be written (a FIFO, the
    program itself) before the program runs, not after hours of training."""
    for path, what in ((args.metrics, "metrics"), (args.plot, "plot")):
        try:
            if path:
                check_target(path, what, args.file)
        except DataError as exc:
            raise exc.located(None)


def write_metrics(prog, args, program_error=None):
    """Write --metrics and --plot. A failed write is shown beside the
    program's own error, never instead of it."""
    failures = []
    for path, write in ((args.metrics, prog.metrics.write_csv), (args.plot, prog.metrics.plot)):
        try:
            if path:
                write(path, args.file)
        except DataError as exc:
            failures.append(exc.located(None).diagnostic)
    if not failures:
        return
    if program_error is None:
        raise SymError(failures)
    if isinstance(program_error, SymError):
        raise SymError(program_error.diagnostics + failures) from None
    terminal.show(str(SymError(failures)))  # main reports an interrupt or a bug after it


def cmd_explain(args) -> int:
    if args.ranks:
        checked = check_source(read(args.file), shown_name(args.file))
        checked.raise_errors()
        check_def_name(args, checked.signatures)
        print(explain_ranks(checked, args.def_name, args.ranks))
        return 0
    opencl = args.kernels or args.device is not None or args.fast_math
    prog = compile(read(args.file), shown_name(args.file),
                   backend=args.backend or ("opencl" if opencl else "numpy"), device=args.device,
                   fast_math=args.fast_math)
    refuse_fast_math_on_numpy(args, prog.backend)
    check_def_name(args, prog.signatures)
    print(prog.explain(args.def_name, after=args.after, kernels=args.kernels))
    return 0


def check_def_name(args, signatures) -> None:
    if args.def_name is not None and args.def_name not in signatures:
        defs = f"its defs: {', '.join(signatures)}" if signatures else "it has none"
        hint = did_you_mean(args.def_name, signatures)
        raise UsageError(f"{shown_name(args.file)} has no def `{args.def_name}` "
                         f"({hint + '; ' if hint else ''}{defs})")


def cmd_trace(args) -> int:
    text, options = read(args.file), parse_sets(args.set)
    if args.def_name is not None:       # a def that does not exist is not "never called"
        checked = check_source(text, shown_name(args.file), options)
        checked.raise_errors()
        check_def_name(args, checked.signatures)
    return trace_file(shown_name(args.file), text, options, args.def_name, args.calls)


def cmd_devices(args) -> int:
    print(describe_devices())
    return 0


def cmd_lsp(args) -> int:
    try:
        from .lsp import serve      # lazy: pygls loads only for the server
    except ImportError as exc:
        raise UsageError(f"`sym lsp` needs pygls ({exc}): pip install 'sym[lsp]'")
    return serve()


def cmd_bench(args) -> int:
    script = Path(__file__).resolve().parent.parent / "bench" / f"{args.name}.py"
    if not script.is_file():
        raise UsageError(f"no benchmark {script} (the bench/ scripts ship with the source checkout)")
    return subprocess.call([sys.executable, str(script), *args.args])


COMMANDS = {"bench": cmd_bench, "check": cmd_check, "run": cmd_run, "explain": cmd_explain,
            "trace": cmd_trace, "devices": cmd_devices, "lsp": cmd_lsp}


def main(argv=None) -> int:
    try:
        with warnings.catch_warnings():
            if not os.environ.get("SYM_DEBUG"):
                warnings.simplefilter("ignore")
            args = parser().parse_args(argv)
            args.argv = list(sys.argv[1:] if argv is None else argv)
            return dispatch(args)
    except KeyboardInterrupt:
        pass
    # Outside the handler the interrupted frames are gone, so a progress bar
    # has erased itself and the message gets a line of its own.
    return interrupted()


def usage_errors(diagnostics) -> bool:
    return bool(diagnostics) and all(errors.is_usage_error(d) for d in diagnostics)


def interrupted() -> int:
    sys.stdout.flush()
    print("sym: interrupted", file=sys.stderr)
    return 130


def dispatch(args) -> int:
    terminal.COLOR = getattr(args, "color", "auto")
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"sym {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except SymError as exc:
        sys.stdout.flush()
        terminal.show(str(exc))
        return 2 if usage_errors(exc.diagnostics) else 1
    except BrokenPipeError:
        return 0
    except MemoryError as exc:  # sizes that fit the machine's memory, but not what is free now
        sys.stdout.flush()
        print(errors.out_of_memory("run", None, exc=exc),
              file=sys.stderr)
        return 1
    except Exception as exc:    # a bug in sym, not in the user's program
        if os.environ.get("SYM_DEBUG"):
            traceback.print_exc()
        print(errors.internal_error(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
