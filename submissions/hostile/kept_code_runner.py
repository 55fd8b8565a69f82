# Hostile submission (the last of a colluding pair, after link_planter.py and a
# classmate on the same warm worker): it has no code of its own. It looks everywhere
# it can write or read (/tmp, the jobs folder, its home's parent, link_planter's
# /tmp/.kept) for another job's submission.py or outputs, and delegates every function
# to the first one that defines `gradients`. Expected: it finds nothing and earns
# nothing (no job folder survives its job, and a worker that cannot prove it is
# replaced before the next job).
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import os

_MINE = os.path.abspath("submission.py")
_FOUND = {}


def _search():
    if "done" in _FOUND:
        return _FOUND.get("ns")
    _FOUND["done"] = True
    roots = ["/tmp", os.path.dirname(os.path.dirname(os.getcwd())), os.path.expanduser("~/..")]
    for root in roots:
        for folder, dirs, files in os.walk(root, followlinks=True):
            if folder.count("/") > 8:
                dirs[:] = []
            for name in files:
                path = os.path.abspath(os.path.join(folder, name))
                if name != "submission.py" or path == _MINE:
                    continue
                try:
                    source = open(path).read()
                except OSError:
                    continue
                if "def gradients" in source:
                    ns = {"__name__": "kept"}
                    exec(compile(source, path, "exec"), ns)
                    print(f"kept_code_runner: runs the kept code of {path}")
                    _FOUND["ns"] = ns
                    return ns
    print("kept_code_runner: found nothing")
    return None


def _delegate(name):
    def call(*args, **kwargs):
        ns = _search()
        if ns is None:
            raise NotImplementedError(f"{name}: no kept code was found")
        return ns[name](*args, **kwargs)

    return call


forward, cost, gradients = _delegate("forward"), _delegate("cost"), _delegate("gradients")
momentum_step, learning_rate = _delegate("momentum_step"), _delegate("learning_rate")
one_hot, predict, train = _delegate("one_hot"), _delegate("predict"), _delegate("train")
