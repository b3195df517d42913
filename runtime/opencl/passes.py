"""The OpenCL backend's own passes over the IR, named and logged like
dsl/rewrites: `Pass(name, description, fn)`, run in the order of PASSES.

    result = run_passes(fn.roots)
    result.roots, result.groups, result.origin   what render uses
    result.log                                   [(pass name, what it did)]

They run after the rewrite pipeline, on the roots the executor computes
(outputs, then update values): `cse` merges what the backend's own
preparation repeats and drops no-op views (the pipeline's CSE runs earlier,
and tests render functions that never went through it), `share_rows`
shares one row kernel between softmax and log_softmax, `groups` decides
which nodes get buffers and which are inlined (analysis.py). The log is
what `sym explain --kernels` prints above the kernels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dsl.build import apply
from dsl.ir import Node, rebuild, toposort
from dsl.rewrites import Pass

from .analysis import Groups, cse, find_groups, share_row_ops
from .conv import valid_convolutions


@dataclass
class PassState:
    roots: list
    target: str = "cpu"
    origin: dict = field(default_factory=dict)   # id(rebuilt node) -> the node it stands for
    groups: Groups | None = None
    log: list = field(default_factory=list)       # (pass name, summary)


def _cse(s: PassState) -> str:
    before = len(toposort(s.roots))
    s.roots = cse(stacks_as_sums(list(s.roots)))
    return f"{before} → {len(toposort(s.roots))} nodes"


def _share_rows(s: PassState) -> str:
    s.roots = share_row_ops(s.roots, s.origin)
    shared = sum(1 for m in s.origin.values() if m.op == "softmax")
    return f"{shared} softmax computed as exp(log_softmax)"


def _conv_pad(s: PassState) -> str:
    s.roots = valid_convolutions(s.roots, s.origin, s.target)
    rewritten = sum(1 for m in s.origin.values() if m.op in ("conv2d", "conv2d_grad_x", "conv2d_grad_k"))
    return f"{rewritten} convolution(s) rewritten as valid ones over padded buffers"


def _groups(s: PassState) -> str:
    s.groups = g = find_groups(s.roots)
    kernels = len(g.kernel_roots())
    inlined = sum(1 for n in g.order if not g.has_buffer(n))
    return f"{kernels} kernel root(s), {inlined} node(s) inlined, {len(g.cores)} core(s)"


def stacks_as_sums(roots: list) -> list:
    """`@` on stacks of matrices as a sum of broadcast products (the
    product is computed inside the sum's loop, never stored): done before
    the backend's cse, as part of it."""
    def visit(old: Node, inputs: tuple) -> Node:
        n = old if inputs == old.inputs else Node(old.op, inputs, old.type, old.attrs, old.span)
        if n.op != "matmul" or max(i.type.rank for i in n.inputs) <= 2:
            return n
        a, b = n.inputs
        a2 = view(a, (1,) + a.type.shape) if a.type.rank == 1 else a
        b2 = view(b, b.type.shape + (1,)) if b.type.rank == 1 else b
        left = view(a2, a2.type.shape + (1,))                       # [..., m, k, 1]
        right = view(b2, b2.type.shape[:-2] + (1,) + b2.type.shape[-2:])   # [..., 1, k, n]
        prod = apply("mul", (left, right), n.span)
        total = apply("sum", (prod,), n.span, axes=(prod.type.rank - 2,), keepdims=False)
        return view(total, n.type.shape)

    def view(x, shape):
        shape = tuple(shape)
        return x if x.type.shape == shape else apply("reshape", (x,), x.span, type=x.type.with_shape(shape))

    return rebuild(roots, visit)


PASSES: list[Pass] = [
    Pass("cse", "merge equal subgraphs; drop reshapes, broadcasts, sum_tos and casts "
         "to the same type", _cse),
    Pass("share_rows", "softmax(x) next to log_softmax(x) becomes exp(log_softmax(x)): "
         "one row kernel", _share_rows),
    Pass("conv_pad", "full-mode convolutions and image gradients become valid convolutions "
         "of zero-padded (dilated) buffers (not the image gradients the CPU computes "
         "directly: stride 1, rows of at most 8)", _conv_pad),
    Pass("groups", "choose the nodes with buffers (kernel roots) and inline the rest "
         "(matmul and tree-reduction cores fused with their epilogue)", _groups),
]


def run_passes(roots: list[Node], passes=None, target: str = "cpu") -> PassState:
    state = PassState(list(roots), target)
    for p in PASSES if passes is None else passes:
        state.log.append((p.name, p.fn(state)))
    return state
