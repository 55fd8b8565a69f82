#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image; run_autograder
# installs nothing. Build the zip that holds it with: grader gradescope --rubric R --out autograder.zip
#
# Base image: choose Ubuntu 24.04. Its python3 is 3.12 and its bubblewrap (0.9) has every
# feature the sandbox uses. Ubuntu 22.04's python3 is 3.10, older than the grader's 3.11,
# and its python3.11 package is a release candidate: this script stops there with a
# message rather than build on it.
#
# Knobs (the defaults are Gradescope's; the tests set them to lay the tree out elsewhere):
#   AUTOGRADER_ROOT       the autograder folder (default /autograder)
#   AUTOGRADER_APT        0: install no system packages (they are in the image already)
#   AUTOGRADER_VENV_ARGS  extra arguments of "python3 -m venv", e.g. --system-site-packages
#   PIP_*                 pip's own settings (PIP_NO_INDEX, PIP_NO_DEPS, ...)
set -euo pipefail

root="${AUTOGRADER_ROOT:-/autograder}"

if [ "${AUTOGRADER_APT:-1}" != 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # bubblewrap gives the sandbox its namespaces where the container allows them;
    # Gradescope's does not (no CAP_SYS_ADMIN), and every result then names the tier it got.
    apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip bubblewrap
fi

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup.sh: $(python3 --version) is older than the grader's Python 3.11;" \
        "choose Gradescope's Ubuntu 24.04 base image." >&2
    exit 1
fi

# AUTOGRADER_VENV_ARGS is a list of words: split on purpose.
# shellcheck disable=SC2086
python3 -m venv ${AUTOGRADER_VENV_ARGS:-} "$root/venv"

wheels=("$root"/source/mlp_grader-*.whl)
if [ "${#wheels[@]}" -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
    echo "setup.sh: expected one mlp_grader-*.whl in $root/source (grader gradescope puts it there)" >&2
    exit 1
fi
# [students]: the libraries students' notebooks may import (scipy, pandas, ...).
"$root/venv/bin/python" -m pip install --quiet "${wheels[0]}[students]"

# Fail the build, not a student's submission, if the rubric is broken.
"$root/venv/bin/python" -c 'import sys; from grader.rubric_file import load_rubric; load_rubric(sys.argv[1])' \
    "$root/source/rubric.toml"
