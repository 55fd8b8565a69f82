# Hostile submission (the first of a pair, graded before a classmate on the same warm
# worker): at load it fills /tmp until the disk is full, hoping that every later
# submission on the worker fails with "No space left on device". It implements
# nothing. Expected: it earns nothing, and the next submission keeps full marks (each
# job's /tmp is proven fresh: a worker whose free space changed is replaced).
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import os

_CHUNK = b"\0" * (1 << 20)
for _n in range(100_000):
    try:
        with open(f"/tmp/filler-{_n}", "wb") as _f:
            for _ in range(32):
                _f.write(_CHUNK)
    except OSError:  # the disk is full, or the file-size limit: try the next name
        if _n > 0 and not os.path.exists(f"/tmp/filler-{_n}"):
            break
        continue
print("tmp_filler: /tmp is full")


def _nothing(*args, **kwargs):
    raise NotImplementedError("tmp_filler implements nothing")


forward = cost = gradients = momentum_step = learning_rate = one_hot = predict = train = _nothing
