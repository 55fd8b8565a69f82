# Hostile submission: fakes a binding mismatch (submissions/hostile/README.md). Its
# `momentum_step` and `train` were never written: each raises the TypeError Python gives
# for a keyword a function does not take ("got an unexpected keyword argument 'alpha'"),
# hoping the grader blames its binding and reports "not assessed" instead of a failure.
# Honest outcome: a binding mismatch is decided in the parent, from the names and the
# constructors' keywords the submission defines (grader/adapters/support.py), never from
# the child's exception: both functions exist and take those keywords, so momentum and
# replay fail ("your code raised TypeError"). Everything else passes.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import numpy as np


def sigmoid(Z):
    """phi(Z) = 1 / (1 + exp(-Z)), elementwise."""
    return 1.0 / (1.0 + np.exp(-Z))


def forward(params, X):
    """Forward pass. Returns the list [A1, A2, ..., A_{L+1}] with A1 = X."""
    L = len(params) // 2
    A = [X]
    for l in range(1, L + 1):
        Z = params[f"W{l}"] @ A[-1] + params[f"b{l}"]
        A.append(sigmoid(Z))
    return A


def cost(params, X, Y, C):
    """J = sum((Y - A_out)^2) + C/2 * sum of ||W_l||^2."""
    L = len(params) // 2
    A_out = forward(params, X)[-1]
    penalty = sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, L + 1))
    return np.sum((Y - A_out) ** 2) + C / 2 * penalty


def gradients(params, X, Y, C):
    """dJ/dW_l and dJ/db_l by back-propagation: {"dW1": ..., "db1": ..., ...}."""
    L = len(params) // 2
    A = forward(params, X)
    V = -2 * (Y - A[L]) * A[L] * (1 - A[L])  # sensitivity of the output layer
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = V @ A[l - 1].T + C * params[f"W{l}"]
        grads[f"db{l}"] = np.sum(V, axis=1).reshape(-1, 1)
        if l > 1:
            V = A[l - 1] * (1 - A[l - 1]) * (params[f"W{l}"].T @ V)
    return grads


def momentum_step(params, grads, rho_prev, eta, alpha):
    """Never written. Raises the message Python gives for a keyword a function lacks, as if
    the grader had passed a keyword this API does not have (a binding mismatch)."""
    raise TypeError("momentum_step() got an unexpected keyword argument 'alpha'")


def learning_rate(eta0, d, epoch):
    """The learning rate of epoch `epoch` (0-based)."""
    return eta0 / (1 + d * epoch)


def one_hot(y, K):
    """Labels 0..K-1, shape (N,) -> one-hot targets (K, N)."""
    Y = np.zeros((K, len(y)))
    Y[y, np.arange(len(y))] = 1.0
    return Y


def predict(params, X):
    """Class indices argmax(A_out) per column, shape (N,)."""
    return np.argmax(forward(params, X)[-1], axis=0)


def train(params, X, y, orders, eta, alpha, C, d, minibatches):
    """Never written either: the same forged mismatch, for the replay's keywords."""
    raise TypeError("train() got an unexpected keyword argument 'minibatches'")



rng = np.random.RandomState(0)
X_demo = rng.normal(size=(4, 60))
y_demo = (X_demo[0] > 0).astype(int) + (X_demo[1] > 0).astype(int)
params0 = {
    "W1": rng.uniform(-1, 1, (6, 4)),
    "b1": np.zeros((6, 1)),
    "W2": rng.uniform(-1, 1, (3, 6)),
    "b2": np.zeros((3, 1)),
}
orders = np.array([rng.permutation(60) for _ in range(30)])
trained, costs, accuracy = train(params0, X_demo, y_demo, orders, 0.05, 0.5, 0.01, 0.01, 6)
print("cost", costs[0], "->", costs[-1], " accuracy", accuracy[0], "->", accuracy[-1])
