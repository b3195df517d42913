"""Every op has an entry in every table (the OpenCL lowering joins later)."""
from dsl.autodiff import NONDIFF, VJP
from dsl.ops import ALL_OPS
from runtime.numpy import IMPL


def test_every_op_has_a_numpy_impl():
    missing = [op for op in ALL_OPS if op not in IMPL]
    assert not missing, f"ops without a numpy impl (runtime/numpy IMPL): {missing}"


def test_every_op_is_differentiable_or_declared_not():
    missing = [op for op in ALL_OPS if op not in VJP and op not in NONDIFF]
    both = [op for op in ALL_OPS if op in VJP and op in NONDIFF]
    assert not missing, f"ops in neither autodiff.VJP nor autodiff.NONDIFF: {missing}"
    assert not both, f"ops in both autodiff.VJP and autodiff.NONDIFF: {both}"


def test_tables_name_only_real_ops():
    extra = sorted((set(IMPL) | set(VJP) | NONDIFF) - set(ALL_OPS))
    assert not extra, f"table entries for ops that dsl.ops does not define: {extra}"
