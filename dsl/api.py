"""`dsl.load` / `dsl.compile`: .sym programs as Python objects.

    m = dsl.load("programs/mnist_logreg.sym", backend="numpy")
    m.train(x, y); m.W; m.W = np.zeros(...); m.run(); m.signatures
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from .diagnostics import SymError, error
from .program import CheckedProgram, check_source
from .rewrites import run_pipeline

BACKENDS = ("numpy", "opencl")


def choose_backend(backend: str | None) -> str:
    backend = backend or os.environ.get("SYM_BACKEND") or default_backend()
    if backend not in BACKENDS:
        raise error("E0901", f"unknown backend `{backend}`", None,
                    f"choose one of: {', '.join(BACKENDS)}")
    return backend


def default_backend() -> str:
    """OpenCL where a device exists; else numpy, announced (once) on stderr."""
    try:
        from runtime.opencl.device import opencl_available
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


def make_executor(backend: str, device: str | None, shared_types: dict):
    if backend == "numpy":
        from runtime.numpy.executor import NumpyExecutor
        return NumpyExecutor(shared_types)
    from runtime.opencl.executor import OpenCLExecutor
    return OpenCLExecutor(shared_types, device=device or os.environ.get("SYM_DEVICE"))


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
                 rewrites=True, nan_check=False, out=None, progress=None):
        checked.raise_errors()
        for w in checked.warnings:
            print(w.render(), file=sys.stderr)
        from runtime.host import Interpreter
        d = self.__dict__
        d["_checked"] = checked
        d["backend"] = choose_backend(backend)
        d["_functions"], d["_logs"] = compile_functions(checked, rewrites)
        d["_executor"] = make_executor(d["backend"], device, checked.shareds)
        d["_interp"] = Interpreter(checked, d["_functions"], d["_executor"], out=out,
                                   nan_check=nan_check, progress=progress)
        self._initialize_shared()

    def _initialize_shared(self):
        """Give shared values their declared initial values, where an
        initialiser needs no host variable (`run()` redoes all of them)."""
        from . import ast as A
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
        from .explain import explain_program
        return explain_program(self._checked, name, after=after, kernels=kernels,
                               executor=self._executor if kernels else None)

    def __getattr__(self, name):
        checked = self.__dict__["_checked"]
        if name in self._functions:
            def call(*args):
                return self._interp.call_def(name, list(args))
            call.__name__ = name
            call.__doc__ = checked.defs[name].signature
            return call
        if name in checked.shareds:
            return np.array(self._executor.get_shared(name))
        raise AttributeError(f"program has no def or shared value `{name}`")

    def __setattr__(self, name, value):
        if name not in self._checked.shareds:
            raise error("E0605", f"program has no shared value `{name}`", None,
                        f"shared values: {', '.join(self._checked.shareds) or 'none'}")
        self._interp.set_shared(name, value)

    def __dir__(self):
        return list(self._functions) + list(self._checked.shareds) + ["run", "signatures", "explain"]


def compile(source: str, name: str = "<inline>", backend=None, device=None, options=None,
            rewrites=True, nan_check=False, out=None, progress=None) -> Program:
    checked = check_source(source, name, options)
    return Program(checked, backend, device, rewrites, nan_check, out, progress)


def load(path, backend=None, device=None, options=None, rewrites=True, nan_check=False,
         out=None, progress=None) -> Program:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error("E0902", f"cannot read {path}: {exc.strerror or exc}", None)
    except UnicodeDecodeError:
        raise error("E0902", f"{path} is not UTF-8 text", None)
    return compile(text, str(path), backend, device, options, rewrites, nan_check, out, progress)
