# Hostile submission: whole-job memory. At its first call it forks 6 processes that
# each allocate and touch 1 GB, below the per-process limit (RLIMIT_AS, 4 GB) but 6 GB
# together, above the job's limit (4 GB), and hold it for two seconds. It implements
# nothing. Expected: it earns nothing, and where a cgroup bounds the job (the result's
# limits_tier is "cgroup") the kernel kills children before the job holds more than its
# limit; the batch ends within its bounds.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import os
import time

import numpy as np

_DONE = []  # the attack runs once, at the first call


def _attack():
    if _DONE:
        return
    _DONE.append(True)
    children = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:
            try:
                block = np.ones(1 << 27)  # 1 GB of float64, every page touched
                time.sleep(2.0)
                os._exit(0 if block[-1] == 1.0 else 1)
            except BaseException:
                os._exit(2)
        children.append(pid)
    held = sum(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 for pid in children)
    print(f"many_processes_memory: {held} of 6 children held 1 GB")


def forward(params, X):
    _attack()
    raise NotImplementedError("many_processes_memory implements nothing")


def cost(params, X, Y, C):
    _attack()
    raise NotImplementedError("many_processes_memory implements nothing")


def gradients(params, X, Y, C):
    _attack()
    raise NotImplementedError("many_processes_memory implements nothing")


def momentum_step(params, grads, rho_prev, eta, alpha):
    _attack()
    raise NotImplementedError("many_processes_memory implements nothing")


def learning_rate(eta0, d, epoch):
    _attack()
    raise NotImplementedError("many_processes_memory implements nothing")


def one_hot(y, K):
    _attack()
    raise NotImplementedError("many_processes_memory implements nothing")


def predict(params, X):
    _attack()
    raise NotImplementedError("many_processes_memory implements nothing")


def train(params, X, y, orders, eta, alpha, C, d, minibatches):
    _attack()
    raise NotImplementedError("many_processes_memory implements nothing")
