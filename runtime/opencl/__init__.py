"""The OpenCL backend: render (IR -> OpenCL C, no device needed), device
(platform and device choice), executor (buffers, kernel cache, launches).

    from runtime.opencl import OpenCLExecutor, opencl_available
"""
from .device import choose_device, describe_devices, opencl_available

__all__ = ["OpenCLExecutor", "opencl_available", "describe_devices", "choose_device",
           "render_function", "RenderOptions", "LOWERING"]


def __getattr__(name):
    # the executor imports pyopencl: load it only when asked for
    if name == "OpenCLExecutor":
        from .executor import OpenCLExecutor
        return OpenCLExecutor
    if name in ("render_function", "RenderOptions", "LOWERING"):
        from . import render
        return getattr(render, name)
    raise AttributeError(name)
