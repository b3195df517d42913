"""Exercise 4: multinomial logistic regression on MNIST, trained by minibatch
gradient descent for one epoch with `dsl.function(..., updates=...)` (the
lecture's lr_model / do_sgd). Needs the MNIST files: set SYM_DATA to a folder
holding mnist/.

    SYM_DATA=/path/to/data python examples/logistic_regression.py
"""
import numpy as np

import dsl
from runtime.data import batches, mnist


class LogisticRegression:
    """p(y | x) = softmax(x W + b), with W and b shared between functions."""

    def __init__(self, x, n_in, n_out):
        self.W = dsl.shared(np.zeros((n_in, n_out), np.float32), name="W")
        self.b = dsl.shared(np.zeros((n_out,), np.float32), name="b")
        self.p_y_given_x = dsl.softmax(dsl.dot(x, self.W) + self.b)
        self.y_pred = dsl.argmax(self.p_y_given_x, axis=1)

    def negative_log_likelihood(self, y):
        return -dsl.mean(dsl.log(self.p_y_given_x)[dsl.arange(y.shape[0]), y])

    def errors(self, y):
        return dsl.mean(dsl.f32(self.y_pred != y))


def do_sgd(learning_rate=0.13, batch_size=600, epochs=1):
    data = mnist()                  # train 50,000 / valid 10,000 / test 10,000
    x = dsl.matrix("x")             # f32[n1, n2]: n2 becomes 784 when it meets W
    y = dsl.ivector("y")
    model = LogisticRegression(x, 784, 10)
    cost = model.negative_log_likelihood(y)
    g_W, g_b = dsl.grad(cost, [model.W, model.b])
    updates = [(model.W, model.W - learning_rate * g_W),
               (model.b, model.b - learning_rate * g_b)]
    train_model = dsl.function([x, y], cost, updates=updates, name="train_model")
    validate_model = dsl.function([x, y], model.errors(y), name="validate_model")
    print(train_model.signature)
    for epoch in range(1, epochs + 1):
        for xi, yi in batches(data.train, batch_size, progress=False):
            train_model(xi, yi)
        error = float(validate_model(data.valid.x, data.valid.y))
        print(f"epoch {epoch}, validation error {error * 100:.2f} %")
    return error


if __name__ == "__main__":
    do_sgd()
