"""Symbolic gradients of x**2, log x and 1/x (the lecture's T.grad examples),
evaluated at x = 2.

    python examples/gradients.py
"""
import dsl

x = dsl.scalar("x")
gx = dsl.grad(x ** 2, x)            # 2x
gx2 = dsl.grad(dsl.log(x), x)       # 1/x
gx3 = dsl.grad(1 / x, x)            # -1/x**2

derivatives = dsl.function([x], [gx, gx2, gx3])
d_square, d_log, d_inverse = derivatives(2.0)
print("d(x**2)/dx at 2 =", float(d_square))
print("d(log x)/dx at 2 =", float(d_log))
print("d(1/x)/dx at 2 =", float(d_inverse))
