"""Theano's Hessian example, with `theano`/`T` replaced by `dsl`: the
Jacobian of the gradient, in a scan; then dsl.hessian."""
import dsl

x = dsl.dvector('x')
y = x ** 2
cost = y.sum()
gy = dsl.grad(cost, x)
H, updates = dsl.scan(lambda i, gy, x: dsl.grad(gy[i], x), sequences=dsl.arange(gy.shape[0]),
                      non_sequences=[gy, x])
f = dsl.function([x], H, updates=updates)
print(f([4, 4]))
print(dsl.function([x], dsl.hessian((x ** 3).sum(), x))([1, 2]))
