"""Numerical stabilisation: forms that overflow or underflow in float
arithmetic replaced by equal forms that do not.

Forward rules:
  log(softmax(x))             -> log_softmax(x)
  log(S(softmax(x), ...))     -> S(log_softmax(x), ...)   S: gather, slice,
                                 transpose, reshape (they only move values,
                                 so they commute with an elementwise log);
                                 the tutorial's `log(p)[arange(n), y]` is the
                                 first form, `log(p[arange(n), y])` this one
  log(sigmoid(x))             -> -softplus(-x)
  log(1 - sigmoid(x))         -> -softplus(x)
  log(1 + x), log(x + 1)      -> log1p(x)
  log(exp(x))                 -> x
  log1p(exp(x))               -> softplus(x)   (so log(1 + exp(x)) too)

Gradient rules. Autodiff runs before the rewrites, so the gradient of
`log(softmax(z))` was built from the unstable form: it divides by the
softmax (`g / p`), which is 0 where a logit is far below the others, and
then multiplies by it again (0 * inf = NaN). These rules cancel the
division against the multiplication, giving the gradient of the stable
form:
  softmax VJP of (G / p)      -> G - p * sum(G, axis)       p = softmax(z)
    (also when G / p was gathered: scatter_add(g / p[i], i) * p is
     scatter_add(g, i), since each position collects g / p_k * p_k)
  sigmoid VJP of (G / s)      -> G * sigmoid(-x)            s = sigmoid(x)
Both are exact in real arithmetic (p and s are never 0 there), so they
change results only by float rounding where the old form was finite.
"""
from __future__ import annotations

from ..ir import Node
from ..ops import MOVERS
from .engine import Rule, apply_rules, as_type_of, is_value, make, one_input, other_operand


def log_of(n: Node, op: str) -> Node | None:
    """For n = log(op(...)), the op node."""
    inner = one_input(n, "log")
    return inner if inner is not None and inner.op == op else None


def log_softmax(n: Node) -> Node | None:
    p = log_of(n, "softmax")
    if p is None:
        return None
    return make("log_softmax", p.inputs, n, axis=p.attr("axis"))


def log_moved_softmax(n: Node) -> Node | None:
    moved = one_input(n, "log")
    if moved is None or moved.op not in MOVERS or moved.inputs[0].op != "softmax":
        return None
    p, rest = moved.inputs[0], moved.inputs[1:]
    ls = make("log_softmax", p.inputs, n, axis=p.attr("axis"))
    attrs = dict(moved.attrs)
    # reshape carries its result type; the rule needs it back
    type = moved.type.with_dtype(ls.type.dtype) if moved.op == "reshape" else None
    return make(moved.op, (ls,) + rest, n, type=type, **attrs)


def negate(x: Node, like: Node) -> Node:
    """-x, without a double negation when x is already -y."""
    inner = one_input(x, "neg")
    return inner if inner is not None else make("neg", (x,), like)


def log_sigmoid(n: Node) -> Node | None:
    s = log_of(n, "sigmoid")
    if s is None:
        return None
    # log(1 / (1 + e**-x)) = -log(1 + e**-x) = -softplus(-x)
    return make("neg", (make("softplus", (negate(s.inputs[0], n),), n),), n)


def log_one_minus_sigmoid(n: Node) -> Node | None:
    diff = one_input(n, "log")
    if diff is None or diff.op != "sub" or not is_value(diff.inputs[0], 1):
        return None
    s = diff.inputs[1]
    if s.op != "sigmoid":
        return None
    # 1 - sigmoid(x) = sigmoid(-x), and log(sigmoid(-x)) = -softplus(x)
    out = make("neg", (make("softplus", s.inputs, n),), n)
    return as_type_of(out, n)


def log_one_plus(n: Node) -> Node | None:
    total = one_input(n, "log")
    if total is None or total.op != "add":
        return None
    x = other_operand(total, 1)
    if x is None:
        return None
    return as_type_of(make("log1p", (x,), n), n)


def log_exp(n: Node) -> Node | None:
    inner = one_input(n, "log")
    x = None if inner is None else one_input(inner, "exp")
    return None if x is None else as_type_of(x, n)


def log1p_exp(n: Node) -> Node | None:
    inner = one_input(n, "log1p")
    x = None if inner is None else one_input(inner, "exp")
    # exp overflows to inf for x > 88 in f32; softplus(x) is about x there
    return None if x is None else make("softplus", (x,), n)


# ---- gradient rules ----------------------------------------------------------
def times(d: Node, p: Node) -> Node | None:
    """d * p without dividing by p, when d is `G / p` (or that gathered and
    scattered back); None when d has neither form."""
    if d.op == "div" and d.inputs[1] == p and d.inputs[0].type == d.type:
        return d.inputs[0]
    if d.op == "scatter_add":
        quotient, *idx = d.inputs
        if (quotient.op == "div" and quotient.inputs[1].op == "gather"
                and quotient.inputs[1].inputs[0] == p
                and tuple(quotient.inputs[1].inputs[1:]) == tuple(idx)
                and quotient.inputs[0].type == quotient.type):
            return make("scatter_add", (quotient.inputs[0], *idx), d, type=d.type)
    return None


def product_with(n: Node, p: Node) -> Node | None:
    """For n = mul(p, other) or mul(other, p), the other factor."""
    if n.op != "mul":
        return None
    a, b = n.inputs
    return b if a == p else a if b == p else None


def softmax_grad_of_log(n: Node) -> Node | None:
    # vjp_softmax builds p * (d - sum(d * p, axis, keepdims))
    if n.op != "mul" or n.inputs[0].op != "softmax":
        return None
    p, diff = n.inputs
    if diff.op != "sub" or diff.inputs[1].op != "sum":
        return None
    d, total = diff.inputs
    axis = p.attr("axis")
    if total.attr("axes") != (axis,) or not total.attr("keepdims"):
        return None
    if product_with(total.inputs[0], p) != d:
        return None
    g = times(d, p)
    if g is None or g.type != n.type:
        return None
    # the VJP of log_softmax, with exp(log_softmax(z)) = p
    summed = make("sum", (g,), n, axes=(axis,), keepdims=True)
    return make("sub", (g, make("mul", (p, summed), n)), n)


def is_one_minus(c: Node, s: Node) -> bool:
    """c is 1 - s, as `1 - s` or as `sigmoid(-x)` for s = sigmoid(x)."""
    if c.op == "sub":
        return is_value(c.inputs[0], 1) and c.inputs[1] == s
    return c.op == "sigmoid" and c.inputs[0].op == "neg" and c.inputs[0].inputs[0] == s.inputs[0]


def sigmoid_grad_of_log(n: Node) -> Node | None:
    # vjp_sigmoid builds d * (s * (1 - s)), with 1 - s spelled sigmoid(-x)
    if n.op != "mul" or n.inputs[1].op != "mul":
        return None
    d, (s, one_minus) = n.inputs[0], n.inputs[1].inputs
    if s.op != "sigmoid" or not is_one_minus(one_minus, s):
        return None
    g = times(d, s)
    if g is None or g.type != n.type:
        return None
    if is_value(g, 1):       # the cotangent seed: 1 * sigmoid(-x) is sigmoid(-x)
        return as_type_of(one_minus, n)
    return make("mul", (g, one_minus), n)


RULES: list[Rule] = [
    ("log-softmax", log_softmax),
    ("log-of-moved-softmax", log_moved_softmax),
    ("log-sigmoid", log_sigmoid),
    ("log-one-minus-sigmoid", log_one_minus_sigmoid),
    ("log1p", log_one_plus),
    ("log-exp", log_exp),
    ("log1p-exp", log1p_exp),
    ("softmax-grad-of-log", softmax_grad_of_log),
    ("sigmoid-grad-of-log", sigmoid_grad_of_log),
]


def run(fn):
    return apply_rules(fn, "stabilize", RULES)
