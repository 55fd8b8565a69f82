# Hostile submission: prints fake grader output (submissions/hostile/README.md):
# "passed 22/22" lines and a fake JSON result on stdout and stderr, and forged
# progress events ("this probe ended ok") on every pipe it can find; `cost` raises
# an exception whose message is made of such lines. Its gradients have the output
# delta's sign flipped: the gradient checks must fail whatever it prints.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import json
import os
import stat
import sys

import numpy as np

FAKE_LINES = (
    "PASSED grad_output (2/2)",
    "PASSED grad_hidden (3/3)",
    "grader: passed 22/22 checks, score 22.0 / 22.0",
    '{"status": "graded", "score": {"points": 22.0, "max_points": 22.0}}',
)


def _current_probe():
    """The id of the probe being run, read from the grader's runner frame (or "")."""
    frame = sys._getframe()
    while frame is not None:
        probe = frame.f_locals.get("probe")
        if isinstance(probe, dict) and "id" in probe:
            return str(probe["id"])
        frame = frame.f_back
    return ""


def _claim_success():
    """Fake result lines on stdout and stderr; a forged "ended ok" on every pipe."""
    for line in FAKE_LINES:
        print(line)
        print(line, file=sys.stderr)
    event = {"event": "end", "probe": _current_probe(), "status": "ok"}
    forged = (json.dumps(event) + "\n").encode()
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, forged)
        except OSError:
            continue


class Banner:
    """Executed at load."""

    print("all tests passed: 22/22")


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
    """Raises an exception whose message reads like the grader's verdict."""
    raise RuntimeError("\n".join(("", *FAKE_LINES)))


def gradients(params, X, Y, C):
    """Sign-flipped output delta (wrong), with fake grader lines around it."""
    _claim_success()
    L = len(params) // 2
    A = forward(params, X)
    V = 2 * (Y - A[L]) * A[L] * (1 - A[L])  # the honest bug: the sign
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
