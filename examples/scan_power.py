"""Theano's scan tutorial, with `theano`/`T` replaced by `dsl`: A**k by
looping k times, with k an input (only the last step's result is kept)."""
import numpy as np

import dsl

k = dsl.iscalar("k")
A = dsl.vector("A")

# Symbolic description of the result
result, updates = dsl.scan(fn=lambda prior_result, A: prior_result * A,
                           outputs_info=dsl.ones_like(A),
                           non_sequences=A,
                           n_steps=k)

# We only care about A**k, but scan has provided us with A**1 through A**k.
# Discard the values that we don't care about. Scan is smart enough to
# notice this and not waste memory saving them.
final_result = result[-1]

# compiled function that returns A**k
power = dsl.function(inputs=[A, k], outputs=final_result, updates=updates)

print(power(np.arange(10, dtype=np.float32), 2))
print(power(np.arange(10, dtype=np.float32), 4))
