"""sym: a small, statically typed math language for machine learning.

    import dsl
    m = dsl.load("programs/mnist_logreg.sym")      # a .sym program
    x = dsl.vector("x"); f = dsl.function([x], x ** 2)   # the tensor API
"""
from .diagnostics import SymError
from .api import compile, load, Program
from .tensor import *  # noqa: F401,F403  (the tensor API; names in dsl.tensor.__all__)
from .tensor import __all__ as _tensor_names
from .tensor_random import MRG_RandomStreams, RandomStreams

__all__ = ["SymError", "compile", "load", "Program", *_tensor_names, "RandomStreams",
           "MRG_RandomStreams"]


def load_ipython_extension(ipython):
    """`%load_ext dsl`: the %%sym cell magic and %sym_explain (dsl/notebook.py)."""
    from .notebook import load     # IPython loads only in a notebook
    load(ipython)


def unload_ipython_extension(ipython):
    from .notebook import unload
    unload(ipython)
