"""Our re-creation of the textbook's 4th-edition API shape (submissions/realshapes/README.md):
NeuralNetMLP(num_features, num_hidden, num_classes) that builds its weights in the
constructor, stored (out, in) as weight_h / weight_out with 1-D bias_h / bias_out;
forward(x) returns only (a_h, a_out); backward(x, a_h, a_out, y) takes integer labels and
returns the four gradients of the mean squared error over one-hot targets, averaged over
the instances. No penalty, no cost method, no fit or predict in the class. Written for this
corpus from what that shape computes; no third-party code is copied.
"""

import numpy as np


def logistic(t):
    return 1.0 / (1.0 + np.exp(-t))


def labels_to_rows(labels, n_labels):
    """(N,) integer labels -> (N, n_labels) rows with a single 1."""
    rows = np.zeros((len(labels), n_labels))
    rows[np.arange(len(labels)), np.asarray(labels, dtype=int)] = 1.0
    return rows


class NeuralNetMLP:
    def __init__(self, num_features, num_hidden, num_classes, random_seed=123):
        self.num_classes = num_classes
        draw = np.random.RandomState(random_seed)
        self.weight_h = draw.normal(0.0, 0.1, size=(num_hidden, num_features))
        self.bias_h = np.zeros(num_hidden)
        self.weight_out = draw.normal(0.0, 0.1, size=(num_classes, num_hidden))
        self.bias_out = np.zeros(num_classes)

    def forward(self, x):
        a_h = logistic(x @ self.weight_h.T + self.bias_h)
        a_out = logistic(a_h @ self.weight_out.T + self.bias_out)
        return a_h, a_out

    def backward(self, x, a_h, a_out, y):
        targets = labels_to_rows(y, self.num_classes)
        n = len(y)
        # loss = (1/n) sum over instances and classes of (a_out - target)^2
        err_out = (2.0 / n) * (a_out - targets) * a_out * (1.0 - a_out)
        g_weight_out = err_out.T @ a_h
        g_bias_out = err_out.sum(axis=0)
        err_h = (err_out @ self.weight_out) * a_h * (1.0 - a_h)
        g_weight_h = err_h.T @ x
        g_bias_h = err_h.sum(axis=0)
        return g_weight_out, g_bias_out, g_weight_h, g_bias_h
