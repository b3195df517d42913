"""Central differences: the reference the gradient tests compare VJPs with."""
import numpy as np

from runtime.numpy import Env, evaluate

EPS = 1e-6


def fd_grad(cost, params, name, sizes=None, eps=EPS):
    """Central differences of the scalar node `cost`, evaluated by the numpy
    reference with `params` and `sizes`, in every element of params[name]."""
    base = np.asarray(params[name])
    out = np.zeros_like(base, dtype=np.float64)
    for i in np.ndindex(base.shape):
        values = []
        for sign in (1, -1):
            x = base.copy()
            x[i] += sign * eps
            env = Env(sizes=dict(sizes or {}), params={**params, name: x})
            values.append(evaluate([cost], env)[0])
        out[i] = (values[0] - values[1]) / (2 * eps)
    return out
