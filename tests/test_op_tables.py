"""Every op has an entry in every table, and every table is keyed by `Op`.

The OpenCL lowering is checked here too: rendering needs no device, so a
missing lowering is found on any machine.
"""
import pytest

from dsl.autodiff import NONDIFF, VJP
from dsl.ir import Node
from dsl.ops import ALL_OPS, TYPE_RULES, Op
from dsl.types import TensorType
from runtime.numpy import IMPL
from runtime.opencl.render import LOWERING

NAMES = {op.value for op in Op}
TABLES = {"dsl.ops TYPE_RULES": TYPE_RULES, "runtime/numpy IMPL": IMPL,
          "runtime/opencl/render.py LOWERING": LOWERING}


@pytest.mark.parametrize("where", TABLES)
def test_every_op_has_an_entry(where):
    missing = [op.value for op in ALL_OPS if op not in TABLES[where]]
    assert not missing, f"ops without an entry in {where}: {missing}"


@pytest.mark.parametrize("where", TABLES)
def test_tables_name_only_real_ops(where):
    extra = sorted(str(k) for k in TABLES[where] if k not in NAMES)
    assert not extra, f"{where} has entries for ops that dsl.ops.Op does not define: {extra}"


@pytest.mark.parametrize("where", list(TABLES) + ["dsl.autodiff VJP"])
def test_tables_are_keyed_by_op(where):
    table = TABLES.get(where, VJP)
    plain = sorted(str(k) for k in table if type(k) is not Op)
    assert not plain, f"{where} keys these ops by a plain name, not by Op: {plain}"


def test_every_op_is_differentiable_or_declared_not():
    missing = [op.value for op in ALL_OPS if op not in VJP and op not in NONDIFF]
    both = [op.value for op in ALL_OPS if op in VJP and op in NONDIFF]
    extra = sorted(str(k) for k in set(VJP) | NONDIFF if k not in NAMES)
    assert not missing, f"ops in neither autodiff.VJP nor autodiff.NONDIFF: {missing}"
    assert not both, f"ops in both autodiff.VJP and autodiff.NONDIFF: {both}"
    assert not extra, f"autodiff names ops that dsl.ops.Op does not define: {extra}"


def test_a_node_holds_an_op_and_still_compares_to_its_name():
    n = Node("exp", (), TensorType("f32", ()))
    assert n.op is Op.EXP and n.op == "exp" and f"{n.op}" == "exp"
    assert n == Node(Op.EXP, (), TensorType("f32", ()))


def test_an_unknown_op_name_is_refused():
    with pytest.raises(ValueError):
        Node("expp", (), TensorType("f32", ()))


def test_an_op_without_a_lowering_is_a_located_error(monkeypatch):
    from dsl.build import apply
    from dsl.diagnostics import Span, SymError
    from dsl.ir import Function
    from runtime.opencl import render
    monkeypatch.delitem(render.LOWERING, Op.TANH)
    span = Span("model.sym", 3, 12, 3, 19)
    x = apply("param", (), type=TensorType("f32", (3,)), name="x")
    with pytest.raises(SymError) as e:
        render.render_function(Function("f", (x,), (apply("tanh", (x,), span),)))
    d = e.value.diagnostics[0]
    assert (d.code, d.span) == ("E0239", span) and "`tanh`" in d.message
