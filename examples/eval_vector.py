"""Evaluating an expression directly: vx ** 2 at [2, 3, 0] with `.eval`.

    python examples/eval_vector.py
"""
import numpy as np

import dsl

vx = dsl.vector("vx")            # f32[n1]: the length is a fresh size variable
fx = vx ** 2
print(fx)                        # its static type
print(fx.eval({vx: np.array([2, 3, 0], np.float32)}))
