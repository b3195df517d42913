"""Theano's scan tutorial, with `theano`/`T` replaced by `dsl`: a polynomial
from its coefficients, looping over them and their powers together.
(sym never converts dtypes silently: the power is cast to the x's dtype.)"""
import numpy as np

import dsl

coefficients = dsl.vector("coefficients")
x = dsl.scalar("x")

max_coefficients_supported = 10000

# Generate the components of the polynomial
components, updates = dsl.scan(fn=lambda coefficient, power, free_variable:
                                coefficient * (free_variable ** dsl.cast(power, "f32")),
                                outputs_info=None,
                                sequences=[coefficients, dsl.arange(max_coefficients_supported)],
                                non_sequences=x)
# Sum them up
polynomial = components.sum()

# Compile a function
calculate_polynomial = dsl.function(inputs=[coefficients, x], outputs=polynomial)

# Test
test_coefficients = np.asarray([1, 0, 2], dtype=np.float32)
test_value = 3
print(calculate_polynomial(test_coefficients, test_value))
print(1.0 * (3 ** 0) + 0.0 * (3 ** 1) + 2.0 * (3 ** 2))
