# Hostile submission: prints everything it can find (submissions/hostile/README.md), to
# read the hidden checks in its own report: at load, every stack frame's locals, every
# dict and array the garbage collector tracks, the job's files and its pipes; and in every
# probe, the inputs and parameters it is given (every value, at full precision).
# Honest outcome: nothing of any probe reaches the child before the probe starts, hidden
# probes run after the public ones, and the student's view shows only what was printed
# while public probes ran: the hidden checks' inputs are in the instructor's view only.
# The code is the correct template, so every check passes.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import gc
import os
import sys

import numpy as np


def sigmoid(Z):
    """phi(Z) = 1 / (1 + exp(-Z)), elementwise."""
    return 1.0 / (1.0 + np.exp(-Z))


def _show(label, value):
    if isinstance(value, np.ndarray):
        value = " ".join(repr(float(x)) for x in value.ravel()[:400])
    print(f"PLAN-LEAK {label}: {str(value)[:4000]}")


def _dump_at_load():
    frame = sys._getframe()
    while frame is not None:
        for k, v in list(frame.f_locals.items()):
            _show(f"frame {frame.f_code.co_name} {k}", v)
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict) and any(k in obj for k in ("probes", "plan", "params", "inputs")):
            _show("gc dict", obj)
        if isinstance(obj, np.ndarray):
            _show("gc array", obj)
    for root, _, files in os.walk(".."):
        for name in files:
            _show("file", os.path.join(root, name))


class DumpAtLoad:
    """Executed at load (definitions mode keeps class bodies)."""

    _dump_at_load()


def _dump_in_probe():
    frame = sys._getframe(2)
    for k, v in list(frame.f_locals.items()):
        _show(f"probe {k}", v)


class Shown:
    """The problems already printed (a class body: definitions mode keeps it)."""

    seen = set()


def forward(params, X):
    """Forward pass. Returns the list [A1, A2, ..., A_{L+1}] with A1 = X."""
    seen = (X.shape, float(X.ravel()[0]) if X.size else 0.0)
    if seen not in Shown.seen and len(Shown.seen) < 40:  # each problem once: the replay calls it often
        Shown.seen.add(seen)
        for k, v in params.items():
            _show(f"probe input {k} shape={v.shape}", v)
        _show(f"probe input X shape={X.shape}", X)
        _dump_in_probe()
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
