"""Every builtin function, written once.

An entry says where a builtin may be called, by which signature in each
place, and what it does in one line:
  sig       inside a def (and on host values, evaluated as in a def)
  host_sig  as a host builtin, run by the interpreter
  init_sig  as the initialiser of a shared value (`shared W: f32[3] = zeros()`)
The checker (`SIGS`, the E0112 "host builtin" list), the host checker
(`HOST_SIGS`, `INIT_SIGS`, usages), the interpreter and the builtin table in
docs/language.md derive from this list. What each builtin does is keyed by
the same names: its lowering in `dsl.builtins.HANDLERS` (unary builtins and
casts lower to the op of their name), its host argument rule in
`dsl.hostargs.RULES`, its host implementation in
`runtime.hostbuiltins.HOST_BUILTINS`; tests/test_registry.py checks that
none is missing.
"""
from __future__ import annotations

from dataclasses import dataclass

from .scope import Sig
from .types import DTYPES


@dataclass(frozen=True)
class Builtin:
    name: str
    doc: str
    sig: Sig | None = None
    host_sig: Sig | None = None
    init_sig: Sig | None = None
    usage: str | None = None    # the usage line of a host builtin's errors (E0615)
    unary: bool = False         # lowers to the elementwise op of the same name
    cast: bool = False          # lowers to `cast` with dtype=name
    draw: bool = False          # draws from a random stream inside a def

    @property
    def where(self) -> tuple[str, ...]:
        return tuple(w for w, s in (("def", self.sig), ("host", self.host_sig),
                                    ("init", self.init_sig)) if s is not None)


X = Sig(("x",))
AXIS = Sig(("x",), (("axis", None), ("keepdims", False)))
ROW = Sig(("x",), (("axis", -1),))
TWO = Sig(("a", "b"))
DRAW = (("seed", None), ("skip", 0), ("after", None))   # after=W0: continue W0's generator
UNARY_DOCS = {"exp": "e**x", "log": "natural log", "log1p": "log(1 + x)",
              "log2": "base-2 log", "sqrt": "square root",
              "sign": "-1, 0 or 1", "tanh": "hyperbolic tangent",
              "sigmoid": "1/(1 + e**-x)", "softplus": "log(1 + e**x)", "relu": "max(x, 0)",
              "sin": "sine", "cos": "cosine"}

BUILTINS: tuple[Builtin, ...] = (
    *(Builtin(n, f"elementwise {d}", X, unary=True) for n, d in UNARY_DOCS.items()),
    # `abs` on the host keeps a number a number; inside a def it is the unary op
    Builtin("abs", "elementwise absolute value", X, host_sig=X, usage="abs(x)", unary=True),
    *(Builtin(n, f"converts to {n}", X, cast=True) for n in DTYPES),
    *(Builtin(n, f"{n} over `axis` (all axes by default)", AXIS) for n in ("sum", "mean", "prod")),
    *(Builtin(n, f"{n} over `axis`; with two arguments the elementwise {n}imum", AXIS,
              host_sig=TWO, usage=f"{n}(a, b) of two numbers, or {n}(x, axis=..., keepdims=false) "
              "of a tensor") for n in ("max", "min")),
    Builtin("argmax", "index of the largest element along `axis`", AXIS),
    Builtin("argmin", "index of the smallest element along `axis`", AXIS),
    Builtin("maximum", "elementwise larger of `a` and `b`", TWO),
    Builtin("minimum", "elementwise smaller of `a` and `b`", TWO),
    Builtin("dot", "matrix product, as `a @ b`", TWO),
    Builtin("where", "`a` where `cond` holds, else `b`", Sig(("cond", "a", "b"))),
    Builtin("clip", "`x` limited to [lo, hi]", Sig(("x", "lo", "hi"))),
    Builtin("softmax", "softmax along `axis`", ROW),
    Builtin("log_softmax", "log of softmax along `axis`, computed stably", ROW),
    Builtin("logsumexp", "log(sum(exp(x))) along `axis`, computed stably", ROW),
    Builtin("one_hot", "f32 rows with a 1 at each label", Sig(("y", "depth"))),
    Builtin("transpose", "axes reversed, or permuted by `axes`", Sig(("x",), (("axes", None),))),
    Builtin("reshape", "the same elements in a new shape", Sig(("x", "shape"))),
    Builtin("concat", "tensors joined along `axis`", Sig(("xs",), (("axis", 0),))),
    Builtin("stack", "tensors stacked on a new `axis`", Sig(("xs",), (("axis", 0),))),
    *(Builtin(n, f"a tensor of {v}s", Sig(("shape",), (("dtype", "f32"),)),
              init_sig=Sig((), (("shape", None), ("dtype", "f32"))))
      for n, v in (("zeros", 0), ("ones", 1))),
    Builtin("full", "a tensor filled with `value`", Sig(("shape", "value"), (("dtype", None),)),
            init_sig=Sig(("value",), (("shape", None), ("dtype", None))),
            usage="shared W: f32[...] = full(value)"),
    Builtin("arange", "0, 1, ..., n - 1 (i64)", Sig(("n",))),
    Builtin("stop_gradient", "`x`, through which no gradient flows", X),
    Builtin("cumsum", "running sum along `axis` (default 0)", Sig(("x",), (("axis", 0),))),
    Builtin("ifelse", "`a` if the bool scalar `cond` holds, else `b`; only that side is computed",
            Sig(("cond", "a", "b"))),
    Builtin("grad", "gradient of a scalar float `cost` with respect to `wrt`", Sig(("cost", "wrt"))),
    Builtin("len", "the size of the first axis", X, host_sig=X, usage="len(x)"),
    Builtin("print", "prints its arguments", host_sig=Sig((), (("sep", " "),), variadic=True),
            usage='print(value, ..., sep=" ")'),
    Builtin("range", "integers from `a` (or 0) up to `b`", usage="range(stop), range(start, stop) "
            "or range(start, stop, step)", host_sig=Sig(("a",), (("b", None), ("step", None)))),
    Builtin("batches", "`(x, y)` minibatches of a data split",
            host_sig=Sig(("split", "size"), (("drop_last", False),)),
            usage="batches(split, size, drop_last=false)"),
    Builtin("record", "appends `value` to the metric series `name`",
            host_sig=Sig(("name", "value")), usage='record("name", value)'),
    Builtin("save", "writes every shared value to a .npz file", host_sig=Sig(("path",)),
            usage='save("file.npz")'),
    Builtin("load", "restores shared values from a .npz file", host_sig=Sig(("path",)),
            usage='load("file.npz")'),
    Builtin("mnist", "the MNIST splits: train, valid, test", host_sig=Sig((), (("path", None),)),
            usage='mnist() or mnist("folder or file.pkl.gz")'),
    Builtin("format", "a number as text, by a Python format spec",
            host_sig=Sig(("value", "spec")), usage='format(value, "spec")'),
    # ---- random: initialisers drawn with numpy.random.RandomState, and draws
    # from a stream inside defs (`shared rng: stream = 234`)
    Builtin("normal", "normal draws: from a stream in a def; as an initialiser with "
            "numpy.random.RandomState(seed), or continuing the one that drew `after`",
            sig=Sig(("stream", "shape"), (("mean", 0.0), ("std", 1.0), ("dtype", "f32"))),
            init_sig=Sig(("mean", "std"), DRAW), usage="shared W: f32[...] = normal(mean, std, seed=S)",
            draw=True),
    Builtin("uniform", "uniform draws in [low, high): from a stream in a def; as an initialiser "
            "with numpy.random.RandomState(seed), or continuing the one that drew `after`",
            sig=Sig(("stream", "shape"), (("low", 0.0), ("high", 1.0), ("dtype", "f32"))),
            init_sig=Sig(("low", "high"), DRAW), usage="shared W: f32[...] = uniform(low, high, seed=S)",
            draw=True),
    Builtin("bernoulli", "1 with probability `p`, else 0, from a stream",
            Sig(("stream", "shape"), (("p", 0.5), ("dtype", "f32"))), draw=True),
    Builtin("binomial", "successes of `n` trials of probability `p`, from a stream",
            Sig(("stream", "shape"), (("n", 1), ("p", 0.5), ("dtype", "f32"))), draw=True),
    Builtin("integers", "integers in [low, high) (i64), from a stream",
            Sig(("stream", "shape", "low", "high")), draw=True),
    Builtin("permutation", "0, ..., n - 1 shuffled by seed (i64), as numpy.random.RandomState(seed)",
            host_sig=Sig(("n", "seed")), usage="permutation(n, seed=S)"),
    Builtin("shuffle", "a data split with its rows shuffled by seed",
            host_sig=Sig(("split", "seed")), usage="shuffle(split, seed=S)"),
    Builtin("save_tiles", "writes filters or images f[n, c, h, w] as a grid of tiles in a PNG",
            host_sig=Sig(("x", "path")), usage='save_tiles(x, "file.png")'),
    Builtin("conv2d", "convolution of images f[b, c, h, w] with filters f[o, c, kh, kw] "
            "(flipped, as Theano's conv2d)", Sig(("x", "w"), (("mode", "valid"), ("stride", (1, 1))))),
    *(Builtin(f"{k}_pool2d", f"{k} of each `window` of images f[b, c, h, w]",
              Sig(("x", "window"), (("stride", None), ("ignore_border", True)))) for k in ("max", "mean")),
)
BY_NAME = {b.name: b for b in BUILTINS}

SIGS = {b.name: b.sig for b in BUILTINS if b.sig is not None}
# max(a, b) and min(a, b) on the host: the two-number form of a def builtin
OVERLOADED = tuple(b.name for b in BUILTINS if b.sig is not None and b.host_sig == TWO)
HOST_SIGS = {b.name: b.host_sig for b in BUILTINS
             if b.host_sig is not None and b.name not in OVERLOADED}
INIT_SIGS = {b.name: b.init_sig for b in BUILTINS if b.init_sig is not None}
# on the host `uniform(...)` is an initialiser only; a draw from a stream is E1205
INIT_ONLY = tuple(b.name for b in BUILTINS if b.where == ("init",)
                  or (b.draw and b.init_sig is not None))
HOST_ONLY = tuple(b.name for b in BUILTINS if b.sig is None)    # E0112 inside a def
DRAWS = tuple(b.name for b in BUILTINS if b.draw)
USAGE = {b.name: b.usage for b in BUILTINS if b.usage is not None}
NAMES = frozenset(BY_NAME)


def markdown_table() -> str:
    """The builtin table of docs/language.md."""
    rows = ["| builtin | where | what |", "|---|---|---|"]
    rows += [f"| `{b.name}` | {', '.join(b.where)} | {b.doc} |" for b in BUILTINS]
    return "\n".join(rows)
