"""Theano's Jacobian example, with `theano`/`T` replaced by `dsl`: one
gradient per element of y, in a scan over y's indices; then dsl.jacobian."""
import dsl

x = dsl.dvector('x')
y = x ** 2
J, updates = dsl.scan(lambda i, y, x: dsl.grad(y[i], x), sequences=dsl.arange(y.shape[0]),
                      non_sequences=[y, x])
f = dsl.function([x], J, updates=updates)
print(f([4, 4]))
print(dsl.function([x], dsl.jacobian(y, x))([1, 2, 3]))
