"""`dsl.load` / `dsl.compile`: .sym programs as Python objects.

    m = dsl.load("programs/mnist_logreg.sym", backend="numpy")
    m.train(x, y); m.W; m.W = np.zeros(...); m.run(); m.signatures
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from . import ast as A, terminal
from .diagnostics import Note, SymError
from . import errors as catalog
from .explain import explain_program, format_function
from .program import CheckedProgram, check_source
from .rewrites import run_pipeline
from .scope import did_you_mean
from .tensor_core import errors, located, user_span

BACKENDS = ("numpy", "opencl")
LOAD_SIGNATURE = ("dsl.load(path, backend=None, device=None, options=None, rewrites=True, "
                  "nan_check=False, out=None, progress=None, fast_math=False)")
COMPILE_SIGNATURE = ("dsl.compile(source, name='<inline>', backend=None, device=None, "
                     "options=None, rewrites=True, nan_check=False, out=None, progress=None, fast_math=False)")
EXPLAIN_SIGNATURE = "Program.explain(name=None, after=None, kernels=False)"


def choose_backend(backend: str | None, device: str | None = None) -> str:
    """The backend to run on. A device names an OpenCL device, so it implies
    OpenCL when no backend is chosen, and is an error with numpy (E0904)
    rather than ignored. SYM_DEVICE is only a default: numpy ignores it."""
    if device is not None and not isinstance(device, str):
        raise catalog.bad_load_argument(f"a device is a string, got {describe(device)}", None,
                                        "`cpu`, `gpu` or `P:D` as `sym devices` lists them")
    implied = "opencl" if device is not None else None
    backend = backend or os.environ.get("SYM_BACKEND") or implied or default_backend()
    if backend not in BACKENDS:
        raise catalog.unknown_backend(backend, ', '.join(BACKENDS))
    if backend == "numpy" and device is not None:
        raise catalog.device_for_numpy(device)
    return backend


def describe(value) -> str:
    """`an int`, `a list`, `None`: what a wrong argument is."""
    if value is None:
        return "None"
    kind = type(value).__name__
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def default_backend() -> str:
    """OpenCL where a device exists; else numpy, announced (once) on stderr."""
    try:
        from runtime.opencl.device import opencl_available   # lazy: a backend loads when chosen
        if opencl_available():
            return "opencl"
    except ImportError:
        pass
    global _FALLBACK_ANNOUNCED
    if not _FALLBACK_ANNOUNCED:
        _FALLBACK_ANNOUNCED = True
        print("sym: no OpenCL device found, running on the numpy backend "
              "(pip install pocl-binary-distribution gives a CPU device; `sym devices` lists them)",
              file=sys.stderr)
    return "numpy"


_FALLBACK_ANNOUNCED = False


def make_executor(backend: str, device: str | None, shared_types: dict, fast_math: bool = False):
    if backend == "numpy":
        from runtime.numpy.executor import NumpyExecutor     # lazy: a backend loads when chosen
        return NumpyExecutor(shared_types)
    from runtime.opencl.executor import OpenCLExecutor       # lazy: `import dsl` stays light
    return OpenCLExecutor(shared_types, device=device or os.environ.get("SYM_DEVICE"), fast_math=fast_math)


def compile_functions(prog: CheckedProgram, rewrites: bool = True):
    """Each def's IR after the rewrite pipeline, and the rewrite logs."""
    functions, logs = {}, {}
    for name, info in prog.defs.items():
        fn = info.function
        if rewrites:
            fn, log = run_pipeline(fn)
        else:
            log = []
        functions[name], logs[name] = fn, log
    return functions, logs


class Program:
    """A checked, compiled .sym program bound to a backend."""

    def __init__(self, checked: CheckedProgram, backend=None, device=None,
                 rewrites=True, nan_check=False, out=None, progress=None, fast_math=False):
        checked.raise_errors()
        from runtime import parallel     # lazy: checking a program never loads the runtime
        from runtime.host import Interpreter
        world = parallel.world()         # K > 1 ranks under mpiexec, else None
        main_rank = world is None or world.rank == 0
        for w in checked.warnings if main_rank else ():
            terminal.show(w.render())
        d = self.__dict__
        d["_checked"] = checked
        d["backend"] = choose_backend(backend, device)
        d["_functions"], d["_logs"] = compile_functions(checked, rewrites)
        if not main_rank:               # output, progress and files on rank 0 only
            out, progress = open(os.devnull, "w"), False
        try:
            d["_executor"] = make_executor(d["backend"], device, checked.shareds, bool(fast_math))
        except MemoryError as exc:  # they fit the physical memory, but not the memory free now
            raise out_of_memory(checked, exc) from None
        d["_interp"] = Interpreter(checked, d["_functions"], d["_executor"], out=out,
                                   nan_check=nan_check, progress=progress)
        if world is not None:
            plans = parallel.compile_plans(checked, rewrites)
            world.refuse_differences(parallel.digest(
                d["backend"], nan_check, [format_function(f) for f in d["_functions"].values()]),
                "compiled program")
            d["_interp"].parallel = parallel.DataParallel(world, plans)
            d["_interp"].main_rank = main_rank
        d["_world"] = world
        self._initialize_shared()

    def __reduce_ex__(self, protocol):
        # the interpreter holds open streams and, on OpenCL, device state
        raise catalog.program_not_picklable()

    def _initialize_shared(self):
        """Give shared values their declared initial values, where an
        initialiser needs no host variable (`run()` redoes all of them)."""
        for item in self._checked.ast.items:
            if isinstance(item, A.SharedDecl):
                try:
                    self._interp.init_shared(item)
                except SymError:
                    pass    # depends on host state; run() sets it

    @property
    def signatures(self) -> dict[str, str]:
        return self._checked.signatures

    @property
    def device(self) -> str:
        return getattr(self._executor, "description", self.backend)

    def run(self):
        self._interp.run()
        return self

    @property
    def metrics(self):
        return self._interp.metrics

    def explain(self, name: str | None = None, after: str | None = None, kernels: bool = False) -> str:
        span = user_span()
        if name is not None and name not in self._functions:
            what = f"no def `{name}`" if isinstance(name, str) else f"no def {describe(name)}"
            raise in_user_code(catalog.no_such_def(what, span,
                                                   (isinstance(name, str) and did_you_mean(name, self._functions))
                                                   or f"its defs: {', '.join(self._functions) or 'none'}",
                                                   [Note(f"signature: {EXPLAIN_SIGNATURE}")]), span)
        return explain_program(self._checked, name, after=after, kernels=kernels,
                               executor=self._executor if kernels else None)

    def __getattr__(self, name):
        checked = self.__dict__["_checked"]
        if name in self._functions:
            def call(*args, **kwargs):
                span = user_span()
                info = checked.defs[name]
                values = bind_arguments(name, [p for p, _ in info.params], args, kwargs,
                                        info.signature, span)
                with errors(span):
                    return self._interp.call_def(name, values)
            call.__name__ = name
            call.__doc__ = checked.defs[name].signature
            return call
        if name in checked.shareds:
            with self._interp.call_lock:        # between calls, never inside one
                return np.array(self._executor.get_shared(name))
        raise AttributeError(f"program has no def or shared value `{name}`")

    def __setattr__(self, name, value):
        if name not in self._checked.shareds:
            raise catalog.shared_value_mismatch("unknown", None, name=name,
                                                names=', '.join(self._checked.shareds) or 'none')
        with self._interp.call_lock:            # between calls, never inside one
            self._interp.set_shared(name, value)

    def __dir__(self):
        return list(self._functions) + list(self._checked.shareds) + ["run", "signatures", "explain"]


def in_user_code(err: SymError, span) -> SymError:
    """`err` with the user's source file registered, so its text quotes the line at `span`."""
    return located(err.diagnostics, span)


def bind_arguments(fname: str, names: list, args, kwargs, signature: str, span) -> list:
    """The arguments of a call in parameter order, bound as Python binds them
    (by position, then by name); a missing, extra, unknown or repeated
    argument is a SymError (E0103, E0104) with the signature in a note."""
    note = [Note(f"signature: {signature}")]
    if len(args) > len(names):
        raise in_user_code(catalog.wrong_argument_count("takes", span, "remove the extra arguments",
                                                        note, fname=fname,
                                                        count=plural(len(names), 'argument'),
                                                        got=len(args)), span)
    values: list = list(args) + [_MISSING] * (len(names) - len(args))
    for key, value in kwargs.items():
        where = [i for i, n in enumerate(names) if n == key]
        if not where:
            raise in_user_code(catalog.bad_keyword_argument("unknown", span,
                                                            did_you_mean(key, names) or f"its arguments: {', '.join(names) or 'none'}",
                                                            note, fname=fname, key=key), span)
        if len(where) > 1:
            raise in_user_code(catalog.bad_keyword_argument("two_named", span, notes=note,
                                                            fname=fname, key=key), span)
        if values[where[0]] is not _MISSING:
            raise in_user_code(catalog.bad_keyword_argument("twice", span, notes=note, fname=fname,
                                                            key=key), span)
        values[where[0]] = value
    missing = [f"`{n}`" for n, v in zip(names, values) if v is _MISSING]
    if missing:
        raise in_user_code(catalog.wrong_argument_count("missing", span, notes=note, fname=fname,
                                                        count=plural(len(missing), 'argument'),
                                                        names=', '.join(missing)), span)
    return values


_MISSING = object()


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def out_of_memory(checked: CheckedProgram, exc: MemoryError) -> SymError:
    """E0221 at the declaration of the shared value that did not fit (the
    numpy executor names it), else of the largest."""
    name = getattr(exc, "name", None) or max(
        checked.shareds, key=lambda n: int(np.prod(checked.shareds[n].concrete_shape({}), dtype=object)))
    return catalog.out_of_memory("shared", checked.shared_decls[name].type.span, name=name, exc=exc)


def compile(source: str, name: str = "<inline>", backend=None, device=None, options=None,
            rewrites=True, nan_check=False, out=None, progress=None, fast_math=False) -> Program:
    span = user_span()
    if not isinstance(source, str):
        bad_argument(f"`source` is the program's text, got {describe(source)}",
                     "to run a file, use `dsl.load(path)`", COMPILE_SIGNATURE, span)
    if not isinstance(name, str):
        bad_argument(f"`name` is a file name for messages, got {describe(name)}",
                     "e.g. `name=\"model.sym\"`", COMPILE_SIGNATURE, span)
    options = check_flags(options, rewrites, nan_check, out, progress, COMPILE_SIGNATURE, span,
                          fast_math)
    checked = check_source(source, name, options)
    return Program(checked, backend, device, rewrites, nan_check, out, progress, fast_math)


def load(path, backend=None, device=None, options=None, rewrites=True, nan_check=False,
         out=None, progress=None, fast_math=False) -> Program:
    span = user_span()
    if not isinstance(path, (str, os.PathLike)):
        bad_argument(f"`path` is a file path, got {describe(path)}",
                     "pass a str or a pathlib.Path: `dsl.load(\"model.sym\")`", LOAD_SIGNATURE, span)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise in_user_code(catalog.cannot_read_program("unreadable", span,
                                                       "check the path; relative paths start at the working directory "
                                                       f"({os.getcwd()})" if isinstance(exc, FileNotFoundError) else None,
                                                       path=path, reason=exc.strerror or exc), span)
    except UnicodeDecodeError:
        raise in_user_code(catalog.cannot_read_program("not_utf8", span, path=path), span)
    options = check_flags(options, rewrites, nan_check, out, progress, LOAD_SIGNATURE, span, fast_math)
    return compile(text, str(path), backend, device, options, rewrites, nan_check, out, progress,
                   fast_math)


def bad_argument(message: str, hint: str | None, signature: str, span):
    raise in_user_code(catalog.bad_load_argument(message, span, hint,
                                                 [Note(f"signature: {signature}")]), span)


def check_flags(options, rewrites, nan_check, out, progress, signature, span, fast_math=False) -> dict:
    """The keyword arguments load and compile share, checked; the options as
    a dict of Python values (numpy scalars become numbers)."""
    if options is None:
        options = {}
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        bad_argument(f"`options` maps option names to values, got {describe(options)}"
                     + (" with a key that is not a string" if isinstance(options, dict) else ""),
                     "e.g. `options={\"epochs\": 1}`", signature, span)
    for flag, value in (("rewrites", rewrites), ("nan_check", nan_check), ("fast_math", fast_math)):
        if not isinstance(value, (bool, np.bool_)):
            bad_argument(f"`{flag}` is True or False, got {describe(value)}", None, signature, span)
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        bad_argument(f"`progress` is None, True or False, got {describe(progress)}", None,
                     signature, span)
    if out is not None and not callable(getattr(out, "write", None)):
        bad_argument(f"`out` is a text stream (with a `write` method), got {describe(out)}",
                     "e.g. `out=io.StringIO()`", signature, span)
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in options.items()}
