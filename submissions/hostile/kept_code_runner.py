# Hostile submission (the last of a colluding pair, after link_planter.py and a
# classmate on the same warm worker): it has no code of its own. It looks everywhere
# it can write or read (/tmp, the jobs folder, its home's parent, link_planter's
# /tmp/.kept) for another job's submission.py or outputs, and delegates every function
# to the first one that defines `gradients`. Expected: it finds nothing and earns
# nothing (no job folder survives its job, and a worker that cannot prove it is
# replaced before the next job).
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import os

_FOUND = {}


def _search():
    if "done" in _FOUND:
        return _FOUND.get("ns")
    _FOUND["done"] = True
    roots = ["/tmp", os.path.dirname(os.path.dirname(os.getcwd())), os.path.expanduser("~/..")]
    seen = 0
    for root in dict.fromkeys(r for r in roots if r not in ("/", "")):
        for folder, dirs, files in os.walk(root, followlinks=True):
            seen += len(files) + len(dirs)
            if folder.count("/") > 8 or seen > 20000 or folder.startswith(("/proc", "/sys")):
                dirs[:] = []
            for name in files:
                path = os.path.abspath(os.path.join(folder, name))
                if name != "submission.py" or path == os.path.abspath("submission.py"):
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



def forward(params, X):
    return _kept("forward")(params, X)


def cost(params, X, Y, C):
    return _kept("cost")(params, X, Y, C)


def gradients(params, X, Y, C):
    return _kept("gradients")(params, X, Y, C)


def momentum_step(params, grads, rho_prev, eta, alpha):
    return _kept("momentum_step")(params, grads, rho_prev, eta, alpha)


def learning_rate(eta0, d, epoch):
    return _kept("learning_rate")(eta0, d, epoch)


def one_hot(y, K):
    return _kept("one_hot")(y, K)


def predict(params, X):
    return _kept("predict")(params, X)


def train(params, X, y, orders, eta, alpha, C, d, minibatches):
    return _kept("train")(params, X, y, orders, eta, alpha, C, d, minibatches)


def _kept(name):
    ns = _search()
    if ns is None:
        raise NotImplementedError(f"{name}: no kept code was found")
    return ns[name]
