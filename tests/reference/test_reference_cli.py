"""``python -m reference``: the expected-artifact files, their provenance, and bad input."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from reference import artifacts
from reference.__main__ import main
from reference.artifacts import FIELD_CHECKS, canonical_json
from reference.network import Model, gradients, objective_value
from reference.objectives import Objective
from reference.params import Params

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TOML = ROOT / "rubrics" / "reference_default.toml"
# a small, fast configuration (non-square: D=5, H=4, K=3, N=12)
SMALL = ["--data", "blobs", "--sizes", "5,4,3", "--n", "12", "--epochs", "4", "--minibatches", "3"]


def run(argv: list[str], out: Path) -> tuple[Path, dict]:
    """main() in-process; returns the .npz path and the parsed JSON header."""
    assert main([*argv, "--out", str(out)]) == 0
    return out.with_suffix(".npz"), json.loads(out.with_suffix(".json").read_text())


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """The shipped configuration, as the README's first command runs it."""
    npz, header = run(["--config", str(DEFAULT_TOML)], tmp_path_factory.mktemp("art") / "reference")
    return npz, header, load(npz)


# -- the command line --------------------------------------------------------


def test_help_runs_as_a_module_and_lists_every_key_with_an_example():
    """`python -m reference --help` exits 0, names a flag for every key and shows an example."""
    r = subprocess.run(
        [sys.executable, "-m", "reference", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert r.returncode == 0, r.stderr
    for key in FIELD_CHECKS:
        assert "--" + key.replace("_", "-") in r.stdout
    assert "python -m reference --config rubrics/reference_default.toml --out" in r.stdout


def test_main_prints_where_it_wrote(tmp_path, capsys):
    """A successful run reports both files it wrote on stdout."""
    run(SMALL, tmp_path / "small")
    out = capsys.readouterr().out
    assert str(tmp_path / "small.npz") in out and str(tmp_path / "small.json") in out


# -- the files ----------------------------------------------------------------


def test_npz_has_only_numeric_arrays(default_run):
    """Every array loads with allow_pickle=False and none holds Python objects or strings."""
    _, _, arrays = default_run
    assert arrays and all(a.dtype.kind in "biuf" for a in arrays.values())


def test_default_run_holds_inputs_expectations_and_misconceptions(default_run):
    """The shipped configuration writes inputs, gradients, trace and each misconception kind."""
    _, header, arrays = default_run
    for name in (
        "input/X",
        "input/Y",
        "input/W1",
        "input/order",
        "expected/A3",
        "expected/dW1",
        "expected/db2",
        "expected/trace/objective",
        "expected/optimizer/W1",
        "expected/schedule/eta",
        "misconception/sign_flip_output_delta/dW1",
        "misconception/one_hot_transposed/Y",
        "misconception/compounding_decay/eta",
        "misconception/momentum_heavy_ball_for_course/W1",
        "misconception/xy_shuffled_separately/trace/objective",
    ):
        assert name in arrays, name
    assert all(run["status"] == "ok" for run in header["misconceptions"].values())
    assert arrays["input/X"].shape == (1797, 64) and arrays["expected/dW1"].shape == (30, 64)


def test_json_hashes_match_the_files(default_run):
    """sha256 of the .npz bytes and of the configuration's canonical JSON are recorded correctly."""
    npz, header, _ = default_run
    assert header["sha256"]["npz"] == hashlib.sha256(npz.read_bytes()).hexdigest()
    config_hash = hashlib.sha256(canonical_json(header["config"]).encode()).hexdigest()
    assert header["sha256"]["config"] == config_hash


def test_json_records_the_resolved_configuration_and_versions(default_run):
    """Defaults are filled in (n, hyper-parameters) and numpy/Python versions are recorded."""
    _, header, _ = default_run
    config = header["config"]
    assert set(config) == set(FIELD_CHECKS)
    assert config["n"] == 1797 and config["sizes"] == [64, 30, 10]
    assert config["optimizer_hyper"] == {"alpha": 0.1, "momentum_mask": None}
    assert header["versions"]["numpy"] == np.__version__
    assert header["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert header["seeds"]["seed"] == 1


def test_rerun_is_byte_identical(tmp_path):
    """Two runs of one configuration write identical .npz bytes (fixed zip timestamps) and hashes."""
    npz1, h1 = run([*SMALL, "--misconceptions"], tmp_path / "a")
    npz2, h2 = run([*SMALL, "--misconceptions"], tmp_path / "b")
    assert npz1.read_bytes() == npz2.read_bytes()
    assert h1["sha256"] == h2["sha256"]
    # equal bytes must not depend on both runs falling in one 2-second zip time slot
    with zipfile.ZipFile(npz1) as z:
        assert {info.date_time for info in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_different_seed_changes_the_hash(tmp_path):
    """The hash follows the content: another seed gives other arrays and another hash."""
    _, h1 = run(SMALL, tmp_path / "a")
    _, h2 = run([*SMALL, "--seed", "2"], tmp_path / "b")
    assert h1["sha256"]["npz"] != h2["sha256"]["npz"]
    assert h1["sha256"]["config"] != h2["sha256"]["config"]


# -- the contents agree with each other ---------------------------------------


def test_expected_gradient_is_that_of_the_stored_inputs(tmp_path):
    """expected/dW.. is the declared objective's gradient at the stored X, Y and initial parameters."""
    npz, _ = run(SMALL, tmp_path / "s")
    a = load(npz)
    p0 = Params.from_dict({k[6:]: v for k, v in a.items() if k[6:] in ("W1", "W2", "b1", "b2")})
    g = gradients(p0, a["input/X"].T, a["input/Y"], Model(), Objective(C=0.1))
    for name, G in g.as_dict().items():
        np.testing.assert_array_equal(a[f"expected/d{name}"], G)


def test_trace_ends_at_the_objective_of_the_final_parameters(tmp_path):
    """The trace's last objective is J(final parameters) on the stored data."""
    npz, _ = run(SMALL, tmp_path / "s")
    a = load(npz)
    final = Params.from_dict({k[15:]: v for k, v in a.items() if k.startswith("expected/final/")})
    J = objective_value(final, a["input/X"].T, a["input/Y"], Model(), Objective(C=0.1))
    assert a["expected/trace/objective"].shape == (4,)
    assert a["expected/trace/objective"][-1] == pytest.approx(J, rel=1e-12)


def test_batch_order_is_one_permutation_per_epoch(tmp_path):
    """Each row of input/order is a permutation of 0..N-1, cut by input/batch_bounds."""
    npz, _ = run(SMALL, tmp_path / "s")
    a = load(npz)
    assert a["input/order"].shape == (4, 12)
    assert all(sorted(row) == list(range(12)) for row in a["input/order"])
    np.testing.assert_array_equal(a["input/batch_bounds"], [0, 4, 8, 12])


def test_heavy_ball_misconception_parts_from_course_momentum_at_the_third_iterate(tmp_path):
    """docs/conventions.md §3: the two momentum forms agree for two steps and differ from the third."""
    npz, _ = run([*SMALL, "--misconceptions", "--optimizer-hyper", "alpha=0.9"], tmp_path / "s")
    a = load(npz)
    ref, bug = a["expected/optimizer/W1"], a["misconception/momentum_heavy_ball_for_course/W1"]
    np.testing.assert_allclose(bug[:3], ref[:3], rtol=1e-13)
    assert not np.allclose(bug[3], ref[3], rtol=1e-6)


def test_compounding_decay_parts_from_inverse_time_at_epoch_two(tmp_path):
    """docs/conventions.md §3: compounding decay equals eta0/(1+dk) for k = 0, 1 and is lower from k = 2."""
    npz, _ = run(
        [*SMALL, "--misconceptions", "--schedule-hyper", "eta0=0.1", "--epochs", "6"],
        tmp_path / "s",
    )
    a = load(npz)
    ref, bug = a["expected/schedule/eta"], a["misconception/compounding_decay/eta"]
    np.testing.assert_allclose(ref[5], 0.1 / 1.5)
    np.testing.assert_allclose(bug[:2], ref[:2])
    assert np.all(bug[2:] < ref[2:])
    assert bug[5] == pytest.approx(0.0278, abs=5e-5)


def test_transposed_one_hot_misconception_is_the_transpose(tmp_path):
    """The encoding misconception's Y is the (N, K) transpose of the reference's (K, N) Y."""
    npz, _ = run([*SMALL, "--misconceptions"], tmp_path / "s")
    a = load(npz)
    np.testing.assert_array_equal(a["misconception/one_hot_transposed/Y"], a["input/Y"].T)


def test_a_failing_misconception_is_recorded_and_the_rest_still_run(tmp_path, capsys, monkeypatch):
    """A misconception that raises is marked "not computed" in the JSON; the run still succeeds."""

    def broken(m, ctx):
        raise ArithmeticError("boom")

    monkeypatch.setitem(artifacts.RUNNERS, "encoding", broken)
    npz, header = run([*SMALL, "--misconceptions"], tmp_path / "s")
    runs = header["misconceptions"]
    assert runs["one_hot_transposed"]["status"] == "not computed: ArithmeticError: boom"
    assert runs["sign_flip_output_delta"]["status"] == "ok"
    assert "misconception/one_hot_transposed/Y" not in load(npz)
    assert "one_hot_transposed" in capsys.readouterr().out


# -- flags and the TOML file ----------------------------------------------------


def test_flags_override_the_toml_file(tmp_path):
    """A flag wins over the file's key; keys not given as flags keep the file's value."""
    toml = tmp_path / "c.toml"
    toml.write_text(
        'data = "blobs"\nsizes = [5, 4, 3]\nn = 12\nepochs = 3\nminibatches = 2\n'
        "[optimizer_hyper]\nalpha = 0.3\n"
    )
    npz, header = run(["--config", str(toml), "--epochs", "2"], tmp_path / "o")
    assert header["config"]["epochs"] == 2 and header["config"]["minibatches"] == 2
    assert header["config"]["optimizer_hyper"]["alpha"] == 0.3
    assert load(npz)["expected/trace/objective"].shape == (2,)
    _, header = run(["--config", str(toml), "--optimizer-hyper", "alpha=0.5"], tmp_path / "p")
    assert header["config"]["optimizer_hyper"]["alpha"] == 0.5


def test_changing_the_optimizer_by_flag_drops_the_files_hyper_table(tmp_path):
    """--optimizer adam ignores the file's momentum hyper-parameters instead of rejecting them."""
    toml = tmp_path / "c.toml"
    toml.write_text('data = "xor"\nsizes = [2, 3, 2]\nepochs = 1\n[optimizer_hyper]\nalpha = 0.3\n')
    _, header = run(["--config", str(toml), "--optimizer", "adam"], tmp_path / "o")
    assert header["config"]["optimizer"] == "adam"
    assert "alpha" not in header["config"]["optimizer_hyper"]


@pytest.mark.parametrize(
    ("argv", "toml", "names"),
    [
        (["--config", "{dir}/missing.toml"], None, ["missing.toml", "not found"]),
        (
            ["--config", "{dir}/c.toml"],
            "epochs = 2\nlearning_rate = 0.1\n",
            ["c.toml", "'learning_rate'", "allowed"],
        ),
        (["--config", "{dir}/c.toml"], 'epochs = "ten"\n', ["c.toml", "'epochs'", "whole number"]),
        (["--config", "{dir}/c.toml"], "epochs = \n", ["c.toml", "not valid TOML"]),
        (["--hidden", "swish"], None, ["--hidden", "swish", "sigmoid, tanh"]),
        (["--epochs", "ten"], None, ["--epochs", "whole number"]),
        (["--C", "-1"], None, ["--C", ">= 0"]),
        (["--sizes", "64,x,10"], None, ["--sizes", "64,30,10"]),
        (["--optimizer-hyper", "alpha=2"], None, ["--optimizer-hyper", "'alpha'", "[0, 1)"]),
        (["--optimizer-hyper", "beta=2"], None, ["--optimizer-hyper", "'beta'", "alpha"]),
        (["--data", "xor"], None, ["'sizes'", "xor", "2 inputs"]),
        (["--loss", "bce", "--output", "relu"], None, ["--loss", "--output", "sigmoid or softmax"]),
        (["--no-such-flag"], None, ["--no-such-flag", "--help"]),
    ],
)
def test_bad_input_exits_2_with_one_sentence(tmp_path, capsys, argv, toml, names):
    """Bad input ends with exit status 2 and one stderr line naming the file/flag and what is allowed."""
    if toml is not None:
        (tmp_path / "c.toml").write_text(toml)
    argv = [a.format(dir=tmp_path) for a in argv]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    for name in names:
        assert name in err, (name, err)
    assert not (tmp_path / "o.npz").exists()
