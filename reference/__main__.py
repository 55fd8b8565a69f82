"""``python -m reference``: write the expected artifacts of one configuration.

Thin: parse flags and a TOML file, let ``reference.artifacts`` compute and
write, print where. Every bad input ends in one sentence and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from reference.artifacts import CHOICES, ArtifactConfig, ConfigError, resolve, write
from reference.optimizers import OPTIMIZERS, Factory, Real
from reference.schedules import SCHEDULES

EXAMPLES = """\
examples:
  python -m reference --config rubrics/reference_default.toml --out out/reference
  python -m reference --config rubrics/reference_default.toml --epochs 5 --no-misconceptions --out out/short
  python -m reference --data blobs --sizes 5,4,3 --n 40 --minibatches 4 --optimizer adam \\
      --optimizer-hyper beta1=0.8 --schedule constant --schedule-hyper eta0=0.01 --out out/blobs

Flags override the file, key by key (changing --optimizer or --schedule drops the
file's hyper-parameter table for it). Writes OUT.npz (numeric arrays only, load with
numpy.load(..., allow_pickle=False)) and OUT.json (resolved configuration, seeds,
versions, sha256 of the .npz bytes and of the configuration's canonical JSON).
"""


def _hyper_lines(title: str, registry: dict[str, Factory]) -> str:
    """One line per entry: its hyper-parameters with default and interval (from the registry)."""
    lines = [f"{title} (KEY=VALUE; VALUE in TOML syntax, e.g. 0.1, 3, [true, false]):"]
    for name, entry in registry.items():
        hypers = [
            f"{k}={h.default}" + (f" in {h}" if isinstance(h, Real) else " (with --bias-momentum)")
            for k, h in entry.hyper.items()
        ]
        lines.append(f"  {name:20s} {', '.join(hypers) or '(none)'}")
    return "\n".join(lines)


EPILOG = f"{EXAMPLES}\n{_hyper_lines('--optimizer-hyper', OPTIMIZERS)}\n\n{_hyper_lines('--schedule-hyper', SCHEDULES)}\n"
_D = ArtifactConfig()


def _names(key: str) -> str:
    return ", ".join(CHOICES[key])


# field -> (metavar, help); one flag per configuration key, named like the key
FIELD_HELP: dict[str, tuple[str | None, str]] = {
    "sizes": (
        "D,H,..,K",
        f'units per layer, input first, e.g. "64,30,10" (default {",".join(map(str, _D.sizes))})',
    ),
    "hidden": ("NAME", f"hidden activation: {_names('hidden')} (default {_D.hidden})"),
    "output": ("NAME", f"output activation: {_names('output')} (default {_D.output})"),
    "loss": ("NAME", f"data term: squared, bce, cce (default {_D.loss})"),
    "reduction": (
        "NAME",
        f"sum, mean_instances (1/N), mean_elements (1/NK) (default {_D.reduction})",
    ),
    "penalty": ("NAME", f"none, l2_half (C/2||W||^2), l2, l2_half_mean, l1 (default {_D.penalty})"),
    "C": ("FLOAT", f"penalty strength (default {_D.C})"),
    "penalize_bias": (None, "also penalise the biases (default: no, as the course)"),
    "init": ("NAME", f"initialiser: {_names('init')} (default {_D.init})"),
    "seed": (
        "INT",
        f"seeds RandomState for the weights, then one permutation per epoch (default {_D.seed})",
    ),
    "data": (
        "NAME",
        f"digits (bundled, needs sizes 64,..,10), blobs, xor (2,..,2), probe (default {_D.data})",
    ),
    "n": (
        "INT",
        "instances: the first n digits, or the size of generated data (default: all 1797 digits / 100)",
    ),
    "epochs": ("INT", f"training epochs (default {_D.epochs})"),
    "minibatches": (
        "INT",
        f"batches per epoch, np.array_split(range(N), minibatches) (default {_D.minibatches})",
    ),
    "shuffle": ("NAME", f"course (composing permutations), seeded, none (default {_D.shuffle})"),
    "optimizer": ("NAME", f"{_names('optimizer')} (default {_D.optimizer})"),
    "optimizer_hyper": ("KEY=VALUE", "an optimiser hyper-parameter, repeatable, e.g. alpha=0.1"),
    "schedule": ("NAME", f"{_names('schedule')} (default {_D.schedule})"),
    "schedule_hyper": ("KEY=VALUE", "a schedule hyper-parameter, repeatable, e.g. eta0=0.001"),
    "bias_momentum": (
        None,
        "give biases the optimiser's full rule (default: plain b -= eta g, as the course)",
    ),
    "trajectory_steps": (
        "INT",
        f"full-batch optimiser steps recorded under expected/optimizer (default {_D.trajectory_steps})",
    ),
    "misconceptions": (None, "also write every registered misconception's output (default: no)"),
}
_INTS = {"seed", "n", "epochs", "minibatches", "trajectory_steps"}
_FLOATS = {"C"}
_HYPER = {"optimizer_hyper", "schedule_hyper"}


def flag(key: str) -> str:
    """The flag of configuration key ``key``: ``--penalize-bias`` for ``penalize_bias``."""
    return "--" + key.replace("_", "-")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse would print the usage block too; one sentence is the contract
        raise ConfigError(f"{message} (see python -m reference --help)")


def parser() -> argparse.ArgumentParser:
    """The command line: --config, --out and one flag per configuration key."""
    p = _Parser(
        prog="python -m reference",
        description="Write the reference's expected artifacts (inputs, forward pass, gradients,\n"
        "convergence trace, optimiser trajectory, schedule, misconceptions) for one configuration.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # --out must never be read as a prefix of --output
    )
    p.add_argument(
        "--config", metavar="FILE.toml", help="TOML file with any of the keys below (flags win)"
    )
    p.add_argument(
        "--out",
        metavar="PATH",
        default="out/reference",
        help="where to write: PATH.npz and PATH.json (default out/reference)",
    )
    for key, (metavar, text) in FIELD_HELP.items():
        if metavar is None:
            p.add_argument(flag(key), dest=key, action=argparse.BooleanOptionalAction, help=text)
        elif key in _HYPER:
            p.add_argument(flag(key), dest=key, metavar=metavar, action="append", help=text)
        else:
            p.add_argument(flag(key), dest=key, metavar=metavar, help=text)
    return p


def _from_text(key: str, text: str) -> object:
    """A flag's text as the TOML type of its key (left as text if it does not parse: the check says why)."""
    try:
        if key in _INTS:
            return int(text)
        if key in _FLOATS:
            return float(text)
    except ValueError:
        return text
    return text


def _hyper_items(key: str, items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(
                f"{flag(key)} takes KEY=VALUE, e.g. {flag(key)} alpha=0.1; got {item!r}"
            )
        try:  # TOML syntax for the value: 0.1, 3, true, [true, false]
            out[name.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[name.strip()] = value
    return out


def read_toml(path: str) -> dict[str, Any]:
    """The file's table, or a ConfigError naming the file."""
    try:
        with Path(path).open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"--config: file {path!r} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"--config: {path!r} is a directory, not a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None


def configuration(args: argparse.Namespace) -> ArtifactConfig:
    """The file's keys, overridden by the flags given, checked and resolved."""
    values: dict[str, object] = {}
    origin: dict[str, str] = {}
    if args.config:
        values = read_toml(args.config)
        origin = dict.fromkeys(values, args.config)
    for key in FIELD_HELP:
        given = getattr(args, key)
        if given is None:
            continue
        if key in _HYPER:
            base = values.get(key, {})
            values[key] = {**(base if isinstance(base, dict) else {}), **_hyper_items(key, given)}
        else:
            if key in ("optimizer", "schedule") and values.get(key) != given:
                values.pop(f"{key}_hyper", None)  # that table belonged to the file's choice
            values[key] = _from_text(key, given) if isinstance(given, str) else given
        origin[key] = flag(key)
    return resolve(values, origin)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 written, 2 bad input)."""
    try:
        args = parser().parse_args(argv)
        cfg = configuration(args)
        try:
            npz, js, header = write(cfg, args.out)
        except OSError as e:
            raise ConfigError(f"--out: cannot write {args.out!r} ({e.strerror or e})") from None
    except ConfigError as e:
        print(f"python -m reference: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0)
    runs = header["misconceptions"]
    failed = sorted(name for name, run in runs.items() if run["status"] != "ok")
    mis = f", {len(runs) - len(failed)} misconceptions" if cfg.misconceptions else ""
    print(f"wrote {npz} ({len(header['arrays'])} arrays, {npz.stat().st_size / 1e6:.2f} MB{mis})")
    print(
        f"wrote {js} (provenance: configuration, seeds, versions, sha256 {header['sha256']['npz'][:16]}...)"
    )
    if failed:
        print(f"note: not computed (see {js.name}): {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
