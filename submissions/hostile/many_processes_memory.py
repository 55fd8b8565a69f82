# Hostile submission: whole-job memory. At its first call it forks 6 processes that
# each allocate and touch 1 GB, below the per-process limit (RLIMIT_AS, 4 GB) but 6 GB
# together, above the job's limit (4 GB), and hold it for five seconds. It implements
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
    for _ in range(6):  # not waited for: they hold their memory while later probes run
        if os.fork() == 0:
            try:
                block = np.ones(1 << 27)  # 1 GB of float64, every page touched
                time.sleep(5.0)
                os._exit(0 if block[-1] == 1.0 else 1)
            except BaseException:
                os._exit(2)
    print("many_processes_memory: started 6 children of 1 GB each")

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
