"""Exercise 3: the gradient of f(x, y) = 3x + 4y + 5, and of sigmoid(f)
(the logistic function 1 / (1 + e**-z)), with respect to x and to y, at <1, 2>.

    python examples/gradient_of_f.py
"""
import dsl

x = dsl.scalar("x")
y = dsl.scalar("y")
z = 3 * x + 4 * y + 5
s = dsl.sigmoid(z)

grad_f = dsl.function([x, y], dsl.grad(z, [x, y]))          # a list in, a list out
grad_sigmoid_f = dsl.function([x, y], dsl.grad(s, [x, y]))

dx, dy = grad_f(1.0, 2.0)
print("df/dx =", float(dx), "df/dy =", float(dy))
sx, sy = grad_sigmoid_f(1.0, 2.0)
print("dsigmoid(f)/dx =", format(float(sx), ".6g"), "dsigmoid(f)/dy =", format(float(sy), ".6g"))
