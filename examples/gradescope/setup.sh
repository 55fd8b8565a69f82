#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image (Ubuntu; choose
# the 22.04 base image or newer). Everything the grader needs is installed here;
# run_autograder installs nothing.
#
# The autograder zip holds, at its root: setup.sh, run_autograder, rubric.toml and
# the grader as a wheel (build it with: python -m pip wheel --no-deps -w dist .).
set -euo pipefail

apt-get update -qq
# bubblewrap gives the grader's sandbox its strongest tier (it falls back without it).
apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip bubblewrap

# The grader needs Python >= 3.11; Ubuntu 22.04's python3 is 3.10, so take 3.11
# from its universe repository there.
PYTHON=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv
    PYTHON=python3.11
fi

"$PYTHON" -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --quiet --upgrade pip
# [students]: the libraries students' notebooks may import (scipy, pandas, ...).
/autograder/venv/bin/python -m pip install --quiet \
    "$(ls /autograder/source/mlp_grader-*.whl)[students]"

# Fail the build, not a student's submission, if the rubric is broken.
/autograder/venv/bin/python -c "from grader.rubric import load_rubric; load_rubric('/autograder/source/rubric.toml')"
