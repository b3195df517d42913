"""Shared fixtures: the backend matrix and the MNIST location."""
import os
from pathlib import Path

import pytest

import dsl

ROOT = Path(__file__).resolve().parent.parent


def opencl_skip_reason():
    try:
        from runtime.opencl.device import opencl_available
    except ImportError as exc:
        return f"the OpenCL backend cannot be imported: {exc}"
    if not opencl_available():
        return "no OpenCL device on this machine (pip install pocl-binary-distribution for a CPU one)"
    return None


def pocl_skip_reason():
    """Why pocl's CPU device (whose kernel cache sym's store wraps, and whose
    kernels the helper compiles ahead) cannot be tested here, or None."""
    reason = opencl_skip_reason()
    if reason:
        return reason
    from runtime.opencl.device import choose_device, is_pocl
    try:
        device, _ = choose_device("cpu")
    except Exception:
        return "no OpenCL CPU device: the kernel store and its helper are pocl's"
    if not is_pocl(device):
        return "the CPU device is not pocl's: the kernel store and its helper are pocl's"
    return None


needs_pocl = pytest.mark.skipif(pocl_skip_reason() is not None, reason=str(pocl_skip_reason()))


@pytest.fixture(params=["numpy", "opencl"])
def backend(request):
    """Every test using this runs on the numpy reference and on OpenCL."""
    if request.param == "opencl":
        reason = opencl_skip_reason()
        if reason:
            pytest.skip(reason)
    return request.param


def mnist_dir():
    data = os.environ.get("SYM_DATA")
    if data and (Path(data) / "mnist").is_dir():
        return Path(data) / "mnist"
    return None


needs_mnist = pytest.mark.skipif(mnist_dir() is None,
                                 reason="the real MNIST is absent: set SYM_DATA to a folder holding mnist/")


@pytest.fixture(autouse=True)
def own_sizes():
    """Each test builds its tensor-API graphs as a program of its own: the
    fresh sizes another test made or bound are not its own (`dsl.graph()`)."""
    with dsl.graph():
        yield
