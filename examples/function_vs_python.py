"""Exercise 2: a Python function and the compiled equivalent of
f(x, y) = 3x + 4y + 5, called at <1, 2> and <3, 4>.

    python examples/function_vs_python.py
"""
import dsl


def f_python(x, y):
    return 3 * x + 4 * y + 5


x = dsl.scalar("x")
y = dsl.scalar("y")
f_dsl = dsl.function([x, y], 3 * x + 4 * y + 5)

print(f_dsl.signature)
for a, b in [(1, 2), (3, 4)]:
    print(f"<{a}, {b}>: python {f_python(a, b)}, dsl {float(f_dsl(a, b))}")
