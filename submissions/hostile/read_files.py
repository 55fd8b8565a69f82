# Hostile submission: reads what it should not (submissions/hostile/README.md):
# looks for the grader's repository through /proc/*/cwd and a few shallow globs,
# then reads the rubric (the hidden checks), imports `reference/` (the grader's
# own implementation), and execs another student's submission
# (submissions/src/template_ok.py) to use its functions. Its own gradients
# return zeros: only the borrowed code could pass the gradient checks.
# In the bwrap tier none of those files is visible; the plain tier is advisory
# (the report says so) and this submission would then borrow full marks.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import glob
import os
import sys

import numpy as np

MARKERS = ("rubrics/mlp_backprop.toml", "reference/__init__.py", "submissions/src/template_ok.py")
_FOUND = {}  # filled by the first call


def _repositories():
    """Directories that look like the grader's repository, from what this process can see."""
    places = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                path = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            while path not in ("/", ""):
                places.add(path)
                path = os.path.dirname(path)
    for depth in ("/*", "/*/*", "/*/*/*"):  # bounded: three levels below /
        places.update(
            os.path.dirname(os.path.dirname(p)) for p in glob.glob(depth + "/rubrics/*.toml")
        )
    return sorted(p for p in places if any(os.path.exists(os.path.join(p, m)) for m in MARKERS))


def _borrowed():
    """The namespace of another submission's code, once found (None when nothing is)."""
    if "done" in _FOUND:
        return _FOUND.get("namespace")
    _FOUND["done"] = True
    for repo in _repositories():
        rubric = os.path.join(repo, "rubrics", "mlp_backprop.toml")
        if os.path.exists(rubric):
            with open(rubric) as f:
                hidden = f.read().count('visibility = "hidden"')
            print(f"read_files: read the rubric at {rubric}: {hidden} hidden checks")
        if os.path.exists(os.path.join(repo, "reference", "__init__.py")):
            sys.path.insert(0, repo)
            try:
                import reference

                print(f"read_files: imported the grader's reference from {reference.__file__}")
            except Exception as e:
                print(f"read_files: reference/ found but not importable: {e}")
        other = os.path.join(repo, "submissions", "src", "template_ok.py")
        if os.path.exists(other):
            namespace = {"__name__": "borrowed"}
            with open(other) as f:
                exec(compile(f.read(), other, "exec"), namespace)
            print(f"read_files: using another submission's code from {other}")
            _FOUND["namespace"] = namespace
            return namespace
    print("read_files: found no repository, rubric or other submission")
    return None


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
    """Another student's gradients if their file can be found; zeros otherwise."""
    other = _borrowed()
    if other is not None:
        return other["gradients"](params, X, Y, C)
    return {f"d{k}": np.zeros_like(v) for k, v in params.items()}


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
