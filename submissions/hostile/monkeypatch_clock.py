# Hostile submission: a correct but slow gradient (a Python loop over instances)
# that stops the clock (submissions/hostile/README.md): at load, a class body
# replaces time.perf_counter, and every module-level name any loaded module has
# bound to it, by a counter that advances 1 microsecond per call, so every interval
# the vectorisation probe measures in this process is 1 us.
# Honest outcome: every check passes except "vectorised" (the loops make it
# dozens of times slower than the vectorised baseline; 10x passes).
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import itertools
import sys
import time

import numpy as np


def _stop_the_clock():
    """Replace time.perf_counter, and every module-level name bound to it, by a counter."""
    real = time.perf_counter
    fake = itertools.count(0.0, 1e-6).__next__  # 1 us per call, whatever runs
    time.perf_counter = fake
    for module in list(sys.modules.values()):
        try:
            for name, value in list(vars(module).items()):
                if value is real:  # a module that kept its own reference before we ran
                    setattr(module, name, fake)
        except Exception:  # odd modules: no __dict__, read-only attributes
            continue


class StopTheClock:
    """Executed at load (definitions mode keeps class bodies)."""

    _stop_the_clock()


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
    """Back-propagation one instance at a time (output units one by one): exact, but slow."""
    L = len(params) // 2
    grads = {f"d{k}": np.zeros_like(v) for k, v in params.items()}
    for n in range(X.shape[1]):
        A = forward(params, X[:, n : n + 1])
        V = -2 * (Y[:, n : n + 1] - A[L]) * A[L] * (1 - A[L])
        for l in range(L, 0, -1):
            if l == L:  # the output layer one row (one unit) at a time
                for i in range(V.shape[0]):
                    grads[f"dW{l}"][i] += V[i, 0] * A[l - 1][:, 0]
            else:
                grads[f"dW{l}"] += V @ A[l - 1].T
            grads[f"db{l}"] += V
            if l > 1:
                V = A[l - 1] * (1 - A[l - 1]) * (params[f"W{l}"].T @ V)
    for l in range(1, L + 1):
        grads[f"dW{l}"] += C * params[f"W{l}"]
    return grads


def momentum_step(params, grads, rho_prev, eta, alpha):
    """One step of momentum; rho_prev and the returned rho are keyed like params."""
    new_params, rho = {}, {}
    for name in params:
        rho[name] = eta * grads["d" + name]
        new_params[name] = params[name] - rho[name] - alpha * rho_prev[name]
    return new_params, rho


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
    """Returns (params, cost (E,), accuracy (E+1,))."""
    L = len(params) // 2
    Y = one_hot(y, params[f"W{L}"].shape[0])
    params = {name: W.copy() for name, W in params.items()}
    rho = {name: np.zeros_like(W) for name, W in params.items()}
    costs, accuracy = [], [np.mean(predict(params, X) == y)]
    for epoch, order in enumerate(orders):
        eta_k = learning_rate(eta, d, epoch)
        for idx in np.array_split(order, minibatches):
            grads = gradients(params, X[:, idx], Y[:, idx], C)
            params, rho = momentum_step(params, grads, rho, eta_k, alpha)
        costs.append(cost(params, X, Y, C))
        accuracy.append(np.mean(predict(params, X) == y))
    return params, np.array(costs), np.array(accuracy)
