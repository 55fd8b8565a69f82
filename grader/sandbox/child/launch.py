"""Script entry inside the sandbox (copied beside the ``_grader_child`` package).

    python -s -P -B launch.py run <jobdir> <progress fd> <command fd>
    python -s -P -B launch.py worker <options>

Without namespaces the interpreter starts with ``-S`` (no site-packages) and
this adds the shadow site-packages named in $SANDBOX_SITE_DIRS: everything
installed except the grader's own packages (grader/sandbox/privilege.py).

Not imported by the grader: it imports the child package under the private name
it has inside the sandbox.
"""

import os
import sys

_shadow = os.environ.pop("SANDBOX_SITE_DIRS", "")
if _shadow:
    import site

    for _folder in _shadow.split(os.pathsep):
        site.addsitedir(_folder)

sys.path.append(os.path.dirname(os.path.abspath(__file__)))

if sys.argv[1] == "run":
    from _grader_child.runner import main

    main(sys.argv[2:])
else:
    from _grader_child.worker import main

    main(sys.argv[2:])
