"""Exercise 1: the installation works (dsl and numpy import) and says hello.

    python examples/hello_world.py
"""
import numpy as np

import dsl

greeting = dsl.function([], dsl.sum(dsl.ones((2, 3))))   # a compiled graph: 6 ones
print("hello world")
print("numpy", np.__version__, "| dsl sums six ones:", float(greeting()))
