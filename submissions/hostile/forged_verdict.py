# Hostile submission: forges the grader's kept sandbox verdicts (submissions/hostile/README.md).
# As root the grader keeps which sandbox tiers work in /var/cache/mlp-grader/verdicts (one
# JSON record per installation and boot) so that a cold grade-one need not probe them. At
# load and in every `gradients` call this code tries to make the next run choose a weaker
# tier: it overwrites every record it finds with "bwrap and uid do not work", plants a new
# one under guessed names, makes the folder if it is missing, and replaces it with its own.
# Its gradients have the output delta's sign flipped: the gradient checks must fail, and
# no record may change (the child sees no /var in the bwrap tier and, as a sandbox uid,
# may not enter the root-only folder).
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import json
import os
from pathlib import Path

import numpy as np

FOLDER = "/var/cache/mlp-grader/verdicts"
FORGED = {
    "format": "mlp-grader/tier-verdicts/1",
    "verdicts": {"bwrap": [False, "forged"], "uid": [False, "forged"]},
}


def _write(path):
    try:
        data = json.loads(path.read_text())
        key = data.get("key", "")
    except (OSError, ValueError, AttributeError):
        key = path.stem
    try:
        path.write_text(json.dumps({**FORGED, "key": key}))
        return 1
    except OSError:
        return 0


def _forge():
    """Try every way to plant a downgrade; say how many landed."""
    landed = 0
    folder = Path(FOLDER)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    try:
        found = list(folder.glob("*.json"))
    except OSError:
        found = []
    for path in found:
        landed += _write(path)
    landed += _write(folder / ("0" * 40 + ".json"))
    try:  # a folder of its own in place of the grader's
        mine = folder.with_name("verdicts-forged")
        mine.mkdir(exist_ok=True)
        os.replace(mine, folder)
        landed += 1
    except OSError:
        pass
    print("forged_verdict: landed " + (str(landed) if landed else "nothing"))


_forge()


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
    """Squared error plus the L2 penalty C/2 * sum ||W||^2 (the lecture's objective)."""
    L = len(params) // 2
    A = forward(params, X)
    penalty = sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, L + 1))
    return float(np.sum((Y - A[L]) ** 2) + C / 2 * penalty)


def gradients(params, X, Y, C):
    """Sign-flipped output delta (wrong), forging the verdicts again on every call."""
    _forge()
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
