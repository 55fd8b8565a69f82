# Hostile submission: instead of computing gradients, looks for the expected
# ones in the grader's stack frames and in every object the garbage collector
# tracks (submissions/hostile/README.md). The expected values are computed by the
# grader's parent process only after this child is gone, so there is nothing to
# find: the "honest" fallback returns zeros and the gradient checks must fail.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import gc
import sys

import numpy as np

SUSPECT_WORDS = ("expect", "reference", "answer", "solution", "correct", "truth")


def _fits(candidate, want):
    """A mapping holding an array of the right shape for every gradient name."""
    try:
        return all(np.shape(candidate[k]) == shape for k, shape in want.items())
    except Exception:
        return False


def _search(want):
    """(candidates, frames walked, objects looked at): stack first, then gc."""
    mine = sys._getframe()
    found = []
    frames = 0
    frame = mine.f_back
    while frame is not None:  # every local of every caller: the grader's runner included
        frames += 1
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict) and value.keys() >= want.keys() and _fits(value, want):
                found.append(value)
        frame = frame.f_back
    objects = 0
    for obj in gc.get_objects():  # every container the process holds
        objects += 1
        if isinstance(obj, dict) and obj.keys() >= want.keys() and _fits(obj, want):
            found.append(obj)
    # prefer what is named like an answer
    found.sort(key=lambda d: not any(any(w in str(k) for w in SUSPECT_WORDS) for k in d))
    return found, frames, objects


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
    """Whatever expected-looking gradients the process holds; zeros otherwise."""
    want = {f"d{k}": np.shape(v) for k, v in params.items()}
    found, frames, objects = _search(want)
    print(
        f"stack_gc: searched {frames} frames and {objects} objects, found {len(found)} candidate(s)"
    )
    if found:
        return found[0]
    return {k: np.zeros(shape) for k, shape in want.items()}


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
