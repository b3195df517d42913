"""What each op means, and the value boundary: the leaf both the compiler
(constant folding, the tensor API) and the runtime (both backends, the host)
import. It imports only the compiler core's types, IR, ops and diagnostics.

    values = evaluate(roots, Env(sizes, params, shared), on_value=None)

`IMPL[op](node, inputs, env)` (in impl.py) gives each op's numpy meaning;
`evaluate` runs a graph in toposort order, each node once, and checks that
every value has exactly its node's dtype and shape. `bind_sizes` binds a
def's size variables from its arguments.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from dsl.diagnostics import Note, SymError
from dsl import errors
from dsl.ir import Node, toposort
from dsl.ops import Op
from dsl.signature import bind
from dsl.types import NUMPY_DTYPE, Size, TensorType, TupleType, dim_eval

from . import blas
from .impl import IMPL, Env, IndexOutOfRange, RunFault, check_sizes, sum_to

__all__ = ["IMPL", "Env", "IndexOutOfRange", "RunFault", "ShapeMismatch", "BackendBug",
           "evaluate", "bind_sizes", "check_sizes", "sum_to"]


class ShapeMismatch(Exception):
    """An argument does not fit its declared type (rank, a fixed dimension,
    or a size variable that would be bound to two different values)."""

    def __init__(self, param_name: str, expected_type: TensorType,
                 actual_shape: tuple, reason: str):
        super().__init__(f"argument `{param_name}`: expected {expected_type}, "
                         f"got shape {tuple(actual_shape)}: {reason}")
        self.param_name, self.expected_type = param_name, expected_type
        self.actual_shape, self.reason = tuple(actual_shape), reason

    def at_call(self, fname: str, signature: str, span) -> SymError:
        """E0604 at a call of `fname`: the one wording of a run-time mismatch."""
        return errors.run_time_argument_mismatch("shape", span, self.reason,
                                                 [Note(f"signature: {signature}")],
                                                 param_name=self.param_name, fname=fname,
                                                 expected_type=self.expected_type,
                                                 actual_shape=self.actual_shape)


class BackendBug(AssertionError):
    """An impl returned a value that does not match its node's type."""


def evaluate(roots: list[Node], env: Env,
             on_value: Callable[[Node, np.ndarray], None] | None = None,
             sizes_checked: bool = False) -> list[np.ndarray]:
    """sizes_checked: the caller has run check_sizes for these sizes."""
    order = toposort(roots)
    if not sizes_checked:
        check_sizes(order, env.sizes)
    # a loop with a run-time count binds a size: never in the caller's dict
    env = Env(dict(env.sizes), env.params, env.shared)
    return run_order(order, roots, env, on_value)


def run_order(order: list[Node], roots, env: Env, on_value=None) -> list[np.ndarray]:
    """Evaluate `order` (a toposort of roots) and give the roots' values."""
    values: dict[int, np.ndarray] = {}
    # NaN and overflow checks are the caller's, done explicitly via on_value
    with np.errstate(all="ignore"):
        for node in order:
            inputs = [values[id(i)] for i in node.inputs]
            if node.op == Op.LOOP and on_value is not None:
                value = impl_loop(node, inputs, env, step_hook(on_value, node))
            else:
                value = IMPL[node.op](node, inputs, env)
            _check(node, value, env)
            values[id(node)] = value
            if on_value is not None:
                on_value(node, value)
    return [values[id(r)] for r in roots]


def impl_apply_body(node: Node, xs: list, env: Env) -> np.ndarray:
    """The body run as a function of its own: its params bound to the
    inputs, in the caller's sizes."""
    body = node.attr("body")
    params = {p.attr("name"): x for p, x in zip(body.params, xs)}
    (value,) = evaluate(list(body.roots), Env(env.sizes, params, env.shared))
    return value


# in IMPL with every other op; defined here because it runs `evaluate`
IMPL[Op.APPLY_BODY] = impl_apply_body


class NegativeCount(RunFault):
    def __init__(self, node: Node, count: int):
        super().__init__(node, errors.negative_loop_count(count, node.span))


def loop_steps(node: Node, xs: list, env: Env) -> tuple[int, list]:
    """The number of steps of a loop and its inputs after the count."""
    length = node.attr("length")
    if not node.attr("counted"):
        return dim_eval(length, env.sizes), xs
    steps = int(xs[0])
    if steps < 0:
        raise NegativeCount(node, steps)
    env.sizes[length.single_var()] = steps       # the run-time size of its stacks
    return steps, xs[1:]


def step_hook(on_value, loop: Node):
    """What a loop's body reports its values to: `on_value.on_step(loop,
    t, steps, node, value)` when the hook has it (tracing, --nan-check),
    else the hook itself."""
    on_step = getattr(on_value, "on_step", None)
    if on_step is None:
        return lambda t, steps, n, v: on_value(n, v)
    return lambda t, steps, n, v: on_step(loop, t, steps, n, v)


def impl_loop(node: Node, xs: list, env: Env, on_step=None) -> tuple:
    """Run the body once per step; on_step(t, steps, node, value) sees
    every value of every step. The stacked values are filled at their step."""
    body, nc, ns = node.attr("body"), node.attr("carries"), node.attr("sequences")
    steps, xs = loop_steps(node, xs, env)
    carries, seqs, invariants = list(xs[:nc]), xs[nc:nc + ns], xs[nc + ns:]
    names = [p.attr("name") for p in body.params]
    order = toposort(body.roots)
    check_sizes(order, env.sizes)
    stacks = [np.empty((steps,) + r.type.concrete_shape(env.sizes), NUMPY_DTYPE[r.type.dtype])
              for r in body.roots[nc:]]
    with np.errstate(all="ignore"), blas.in_loop_body():
        for k in range(steps):
            t = steps - 1 - k if node.attr("reverse") else k
            args = [np.array(t, np.int64)] + carries + [s[t] for s in seqs] + list(invariants)
            step_env = Env(env.sizes, dict(zip(names, args)), env.shared)
            on_value = None if on_step is None else (lambda n, v, t=t: on_step(t, steps, n, v))
            values = run_order(order, body.roots, step_env, on_value)
            carries = values[:nc]
            for stack, value in zip(stacks, values[nc:]):
                stack[t] = value
    return tuple(carries) + tuple(stacks)


def impl_item(node: Node, xs: list, env: Env) -> np.ndarray:
    return xs[0][node.attr("index")]


IMPL[Op.LOOP] = impl_loop
IMPL[Op.ITEM] = impl_item


def _check(node: Node, value, env: Env) -> None:
    if isinstance(node.type, TupleType):
        for t, v in zip(node.type.elts, value):
            _check(Node(Op.FULL, (), t), v, env)
        return
    want = node.type.concrete_shape(env.sizes)
    if (not isinstance(value, np.ndarray) or value.shape != want
            or value.dtype != np.dtype(NUMPY_DTYPE[node.type.dtype])):
        got = (value.dtype, value.shape) if isinstance(value, np.ndarray) else type(value)
        raise BackendBug(f"numpy impl of `{node.op}` gave {got}, "
                         f"the node's type is {node.type} = {want}")


def bind_sizes(params: list[Node], args: list[np.ndarray]) -> dict[str, int]:
    """Bind each single-variable dimension (`n`) from the arguments' shapes,
    then check every dimension, compound ones (`n + 1`) included."""
    shapes = [tuple(int(d) for d in np.shape(a)) for a in args]
    sizes, m = bind([p.type for p in params], shapes)
    if m is None:
        return sizes
    param, shape = params[m.index], shapes[m.index]
    dim = param.type.shape[m.axis] if m.axis is not None else None
    reason = {
        "rank": lambda: f"expected rank {m.want}, got rank {m.got}",
        "twice": lambda: f"size `{m.var}` is {m.want} from an earlier dimension but {m.got} "
                         f"on axis {m.axis}",
        "unbound": lambda: f"size `{m.var}` in `{dim}` is not bound by any argument",
        "axis": lambda: f"axis {m.axis} should be {dim}"
                        + (f" = {m.want}" if isinstance(dim, Size) else "") + f", got {m.got}",
    }[m.kind]()
    raise ShapeMismatch(param.attr("name"), param.type, shape, reason)
