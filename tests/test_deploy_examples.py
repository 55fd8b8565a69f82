"""The deployment examples as a runner runs them: the GitHub Actions workflow step by step,
and both examples' shell scripts linted.

The workflow test reads ``examples/github-actions/grade.yml`` and runs each job's steps
the way a hosted runner does: ``run:`` steps with ``bash --noprofile --norc -eo
pipefail`` and the workflow's ``env``, ``if:`` conditions and the few ``${{ }}``
expressions evaluated; ``uses:`` steps done by hand (checkout copies a repository and,
unless ``persist-credentials: false``, stores the token in ``.git/config`` as
actions/checkout does; setup-python puts a venv first on PATH; upload-artifact does
nothing). What a test machine cannot do is shimmed on PATH and recorded: ``sudo`` runs
its command, ``apt-get`` installs nothing, ``sysctl`` reports the runner's AppArmor
restriction, and ``bwrap`` fails as it does under that restriction (and, since the
grader runs bwrap with the child's own PATH, ``GRADER_SANDBOX=plain``). The grader comes
from a wheel of this checkout (offline) instead of GitHub. A submission in the
repository looks for the checkout's token through ``/proc/*/cwd/.git/config``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "github-actions" / "grade.yml"
GRADESCOPE_SCRIPTS = (
    ROOT / "examples" / "gradescope" / "setup.sh",
    ROOT / "examples" / "gradescope" / "run_autograder",
)
RUBRIC = ROOT / "rubrics" / "mlp_backprop.toml"
TEMPLATE_OK = ROOT / "submissions" / "src" / "template_ok.py"
TEMPLATE_OK_NB = ROOT / "submissions" / "correct" / "template_ok.ipynb"
TOKEN = "ghs_fakeTokenTheSubmissionMustNotSee0123456789"
SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]  # GitHub's default for run:

SHIMS = {
    # hosted runners give the job passwordless sudo; here we are root already
    "sudo": 'echo "sudo $*" >> "$SHIM_LOG"; exec "$@"',
    "apt-get": 'echo "apt-get $*" >> "$SHIM_LOG"',
    # Ubuntu 24.04 runners: the AppArmor restriction is on until the job lifts it
    "sysctl": 'echo "sysctl $*" >> "$SHIM_LOG"\nif [ "$1" = -n ]; then echo 1; fi',
    # ...and bubblewrap fails as it does under that restriction (forced here either way)
    "bwrap": 'echo "bwrap: setting up uid map: Permission denied" >&2; exit 1',
}

# The token-reading submission: the template's correct code, whose gradients first read
# every .git/config it can reach through /proc/*/cwd and print what holds credentials.
LEAK = """

import glob as _glob


def _look_for_the_token():
    configs = _glob.glob("/proc/*/cwd/.git/config")
    print(f"token_reader: read {len(configs)} .git/config files")
    for path in configs:
        try:
            text = open(path).read()
        except OSError:
            continue
        for line in text.splitlines():
            if "extraheader" in line.lower() or "authorization" in line.lower():
                print(f"token_reader: LEAKED {line.strip()}")


def gradients(params, X, Y, C):
    _look_for_the_token()
    return _honest_gradients(params, X, Y, C)
"""


# ---------------------------------------------------------------------------
# The workflow as data


def workflow() -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return document


def run_blocks() -> list[tuple[str, str, str]]:
    """(job, step name, script) of every run: step."""
    return [
        (job, step.get("name", "?"), step["run"])
        for job, spec in workflow()["jobs"].items()
        for step in spec["steps"]
        if "run" in step
    ]


def grader_ref() -> str:
    """What the workflow pins the grader to (the part after the last '@')."""
    return str(workflow()["env"]["GRADER"]).rsplit("@", 1)[1]


# ---------------------------------------------------------------------------
# Static checks


def test_workflow_token_may_only_read() -> None:
    """permissions: contents: read at the top, and no job asks for more."""
    doc = workflow()
    assert doc["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in doc["jobs"].values())


def test_every_checkout_keeps_no_credentials() -> None:
    """persist-credentials: false on every actions/checkout."""
    checkouts = [
        step
        for job in workflow()["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]
    assert checkouts and all(
        s.get("with", {}).get("persist-credentials") is False for s in checkouts
    )


def test_every_job_installs_bubblewrap_and_lifts_apparmor() -> None:
    """Both jobs install bubblewrap, and lift the AppArmor restriction only where it exists."""
    for job, spec in workflow()["jobs"].items():
        scripts = "\n".join(step.get("run", "") for step in spec["steps"])
        assert "apt-get install" in scripts and "bubblewrap" in scripts, job
        assert "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in scripts, job
        assert "sysctl -n kernel.apparmor_restrict_unprivileged_userns" in scripts, job


def test_pip_is_cached_on_a_file_that_exists_in_the_repository() -> None:
    """setup-python caches pip, keyed on the workflow file (where the pin is)."""
    for job, spec in workflow()["jobs"].items():
        setup = next(
            s for s in spec["steps"] if str(s.get("uses", "")).startswith("actions/setup-python@")
        )
        assert setup["with"]["cache"] == "pip", job
        assert setup["with"]["cache-dependency-path"] == ".github/workflows/grade.yml", job


def test_grader_pin_exists() -> None:
    """The pinned ref is a commit (or tag) of this repository, not a tag nobody made."""
    ref = grader_ref()
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    kind = "commit" if re.fullmatch(r"[0-9a-f]{40}", ref) else "tag"
    name = f"{ref}^{{commit}}" if kind == "commit" else f"refs/tags/{ref}"
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", name],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"the workflow pins {ref!r}, which is no {kind} of this repository"


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint is not installed")
def test_actionlint_finds_nothing() -> None:
    """actionlint (with shellcheck, when installed) passes the workflow."""
    done = subprocess.run(
        ["actionlint", str(WORKFLOW)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_gradescope_scripts_are_shellcheck_clean() -> None:
    """setup.sh and run_autograder pass shellcheck (SC2164: cd without || exit, and the rest)."""
    done = subprocess.run(
        ["shellcheck", *map(str, GRADESCOPE_SCRIPTS)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
@pytest.mark.parametrize("job,name,script", run_blocks(), ids=lambda v: str(v)[:40])
def test_workflow_run_steps_are_shellcheck_clean(
    tmp_path: Path, job: str, name: str, script: str
) -> None:
    """Each run: step, as the bash script the runner writes, passes shellcheck."""
    path = tmp_path / "step.sh"
    path.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + script)
    done = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{job} / {name}:\n{done.stdout}"


# ---------------------------------------------------------------------------
# The jobs, run as a runner runs them

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Runner:
    """One job's runner: its workspace, PATH, environment and records."""

    workspace: Path
    temp: Path
    repository: Path  # what actions/checkout fetches
    wheel: Path
    event: str = "push"
    document: Path = WORKFLOW  # the workflow file run
    values: dict[str, str] = field(default_factory=dict)  # more contexts: vars.X, secrets.Y
    path: list[str] = field(default_factory=list)
    log: list[tuple[str, int, str]] = field(default_factory=list)  # (step, status, output)
    summary: Path = field(init=False)
    shim_log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.summary = self.temp / "step_summary.md"
        self.shim_log = self.temp / "shims.log"
        shims = self.temp / "shims"
        shims.mkdir(parents=True)
        for name, body in SHIMS.items():
            shim = shims / name
            shim.write_text(f"#!/usr/bin/env bash\n{body}\n")
            shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        self.path = [str(shims)]

    def contexts(self) -> dict[str, str]:
        """The context values the workflow reads."""
        return {
            "github.event_name": self.event,
            "github.workspace": str(self.workspace),
            **self.values,
        }

    def expression(self, text: str) -> str:
        """The ${{ }} expressions the workflow uses; any other fails the test by name."""
        values = self.contexts()

        def value(match: re.Match[str]) -> str:
            assert match.group(1) in values, (
                f"the harness does not know ${{{{ {match.group(1)} }}}}"
            )
            return values[match.group(1)]

        return EXPRESSION.sub(value, text)

    def condition(self, step: dict[str, Any], failed: bool) -> bool:
        """A step's if: always(), success() (the default), or a context compared with a
        string; anything else fails the test by name."""
        text = self.expression(str(step.get("if", "success()"))).strip()
        if text == "always()":
            return True
        if text == "success()":
            return not failed
        match = re.fullmatch(r"([\w.]+) (==|!=) '(\w+)'", text)
        assert match and match.group(1) in self.contexts(), (
            f"the harness cannot evaluate if: {text}"
        )
        equal = self.contexts()[match.group(1)] == match.group(3)
        return equal == (match.group(2) == "==") and not failed

    def env(self, workflow_env: dict[str, str], step: dict[str, Any]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GRADER"))}
        env |= {k: self.expression(str(v)) for k, v in workflow_env.items()}
        env |= {k: self.expression(str(v)) for k, v in step.get("env", {}).items()}
        env |= {
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_WORKSPACE": str(self.workspace),
            "RUNNER_TEMP": str(self.temp),
            "CI": "true",
            "SHIM_LOG": str(self.shim_log),
            "PATH": ":".join([*self.path, env.get("PATH", "/usr/bin:/bin")]),
            # offline: the grader from this checkout's wheel, nothing from an index
            "GRADER": f"{self.wheel}[students]",
            "PIP_NO_INDEX": "1",
            "PIP_NO_DEPS": "1",
            # bubblewrap fails: the shim does for whatever looks it up on the job's PATH,
            # but the grader starts it with the child's own PATH (/usr/bin first), so the
            # plain tier is also asked for directly
            "GRADER_SANDBOX": "plain",
        }
        return env

    def uses(self, step: dict[str, Any]) -> None:
        action, options = str(step["uses"]).split("@")[0], step.get("with", {})
        if action == "actions/checkout":
            shutil.copytree(self.repository, self.workspace, dirs_exist_ok=True)
            git = ["git", "-C", str(self.workspace)]
            subprocess.run([*git, "init", "-q"], check=True)
            subprocess.run([*git, "remote", "add", "origin", "https://github.com/o/r"], check=True)
            if options.get("persist-credentials", True) is not False:
                # what actions/checkout stores so that later git commands authenticate
                subprocess.run(
                    [
                        *git,
                        "config",
                        "--local",
                        "http.https://github.com/.extraheader",
                        f"AUTHORIZATION: basic {TOKEN}",
                    ],
                    check=True,
                )
        elif action == "actions/setup-python":
            if options.get("cache") == "pip":
                dependency = self.workspace / options["cache-dependency-path"]
                assert dependency.is_file(), f"setup-python would find no {dependency}"
            venv = self.temp / "python"
            subprocess.run(
                [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True
            )
            self.path.insert(0, str(venv / "bin"))
        else:
            assert action == "actions/upload-artifact", f"the harness cannot run {action}"

    def run_job(self, name: str) -> list[tuple[str, int, str]]:
        """Every step of job ``name`` in order: (step, exit status, output)."""
        doc = yaml.safe_load(self.document.read_text(encoding="utf-8"))
        job = doc["jobs"][name]
        log: list[tuple[str, int, str]] = []
        failed = not self.condition(job, False)
        if failed:
            return log
        self.workspace.mkdir(parents=True, exist_ok=True)
        for step in job["steps"]:
            if not self.condition(step, failed):
                continue
            label = step.get("name") or step.get("uses")
            if "uses" in step:
                self.uses(step)
                log.append((label, 0, ""))
                continue
            script = self.temp / "step.sh"
            script.write_text(self.expression(step["run"]))
            done = subprocess.run(
                [*SHELL, str(script)],
                cwd=self.workspace,
                env=self.env(doc.get("env", {}), step),
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            log.append((label, done.returncode, done.stdout + done.stderr))
            failed = failed or done.returncode != 0
        return log


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from grader.autograder import build_wheel, source_tree

    return build_wheel(source_tree(), tmp_path_factory.mktemp("wheel"))


def _repository(base: Path) -> Path:
    """An instructor's repository holding the workflow, the rubric, a correct submission
    and the token reader; a student's part: the kit and lab3.ipynb."""
    repo = base / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy2(WORKFLOW, repo / ".github" / "workflows" / "grade.yml")
    (repo / "rubrics").mkdir()
    shutil.copy2(RUBRIC, repo / "rubrics" / RUBRIC.name)
    (repo / "submissions").mkdir()
    shutil.copy2(TEMPLATE_OK_NB, repo / "submissions" / "alice.ipynb")
    honest = TEMPLATE_OK.read_text(encoding="utf-8")
    assert "def gradients(" in honest
    reader = honest.replace("def gradients(", "def _honest_gradients(", 1) + LEAK
    (repo / "submissions" / "mallory.py").write_text(reader, encoding="utf-8")
    shutil.copy2(TEMPLATE_OK_NB, repo / "lab3.ipynb")
    env = {k: v for k, v in os.environ.items() if k != "GRADER_SANDBOX"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "kit",
            "--rubric",
            str(RUBRIC),
            "--out",
            str(repo / "kit"),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return repo


@pytest.fixture(scope="module")
def jobs(wheel: Path) -> Iterator[dict[str, Runner]]:
    """Both jobs run once. Their folders lie where any uid may traverse, as a runner's
    home and workspace are (pytest's own temporary folders are root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="grader-actions-"))
    base.chmod(0o755)
    try:
        repo = _repository(base)
        runners = {}
        for name in ("grade", "check"):
            runner = Runner(base / name / "workspace", base / name / "temp", repo, wheel)
            runner.log = runner.run_job(name)
            runners[name] = runner
        yield runners
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["grade", "check"])
def test_every_step_succeeds(jobs: dict[str, Runner], name: str) -> None:
    """Each job runs to the end with every step's exit status 0 (bubblewrap failing)."""
    log = jobs[name].log
    assert log, f"job {name} did not run"
    for label, status, output in log:
        assert status == 0, f"{name} / {label}:\n{output[-3000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["grade", "check"])
def test_job_lifts_apparmor_and_installs_bubblewrap(jobs: dict[str, Runner], name: str) -> None:
    """The job asked for bubblewrap and, seeing the restriction, lifted it with sudo."""
    calls = jobs[name].shim_log.read_text().splitlines()
    assert any(c.startswith("apt-get install") and "bubblewrap" in c for c in calls)
    assert "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in calls


@pytest.mark.slow
@pytest.mark.parametrize("name", ["grade", "check"])
def test_tier_is_in_the_step_summary(jobs: dict[str, Runner], name: str) -> None:
    """bwrap failed, so the job summary says the submissions ran in the tier below it: the
    uid tier as root (this test's runner), the plain tier as a runner's own user."""
    summary = jobs[name].summary.read_text()
    tier = "uid" if os.geteuid() == 0 else "plain"
    assert f"**Sandbox tier: {tier}**" in summary
    assert "Sandbox tier: bwrap" not in summary


@pytest.mark.slow
def test_checkout_token_is_not_readable_by_a_submission(jobs: dict[str, Runner]) -> None:
    """The reader found the checkout's .git/config and no credentials in it."""
    runner = jobs["grade"]
    config = (runner.workspace / ".git" / "config").read_text()
    assert "extraheader" not in config
    result = (runner.workspace / "graded" / "results" / "mallory.json").read_text()
    assert "token_reader: read" in result
    if os.geteuid() != 0:
        # plain tier: the reader reaches the checkout through /proc, which holds no token;
        # (as root the uid tier cannot even reach another uid's /proc/*/cwd)
        assert "token_reader: read 0 " not in result
    assert "LEAKED" not in result and TOKEN not in result


def test_harness_checkout_stores_the_token_without_the_setting(tmp_path: Path, wheel: Path) -> None:
    """The harness's checkout does what actions/checkout does by default, so the test above
    would see a token were persist-credentials not false."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("x\n")
    runner = Runner(tmp_path / "ws", tmp_path / "temp", repo, wheel)
    runner.workspace.mkdir()
    runner.uses({"uses": "actions/checkout@v4"})
    assert TOKEN in (runner.workspace / ".git" / "config").read_text()
