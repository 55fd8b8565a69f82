"""The numbers behind a report's pictures, carried in the result (rendering computes nothing).

A :class:`Figure` is a small chart of one kind; its :class:`Series` hold the
values, already computed by the grader::

    kind                 x                      y                      drawn as
    convergence          epoch 1..E             cost per epoch         lines; a band between
                                                                       envelope_low and envelope_high
    gradient_error       one category per       relative error          bars (log y), with the
                         array (``categories``)  |a - n| / max(|a|,|n|) reference series as markers
    gradient_magnitude   epoch 1..E             mean |gradient| per    one line per layer (log y)
                                                layer
    scatter              the correct value of   the student's value    dots, with the diagonal
                         each entry (the        of the same entry      where correct entries lie
                         ``reference`` series)  (``student``)

Roles: ``student`` (the submission's values), ``reference`` (the reference
replayed on the same inputs, or a tolerance), ``envelope_low`` and
``envelope_high`` (the range correct submissions reach when the reference
cannot replay the student's exact run). Values may be NaN or inf (a diverging
run); renderers leave such points out and say so.

``check_id`` ties a figure to the check whose evidence it pictures ("" for the
whole submission): a figure of a hidden check holds expected values, so a
student's view leaves it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

FigureKind = Literal["convergence", "gradient_error", "gradient_magnitude", "scatter"]
Role = Literal["student", "reference", "envelope_low", "envelope_high"]
KINDS: tuple[FigureKind, ...] = ("convergence", "gradient_error", "gradient_magnitude", "scatter")
ROLES: tuple[Role, ...] = ("student", "reference", "envelope_low", "envelope_high")


def _floats(values: Sequence[float] | Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class Series:
    """One line or set of bars: ``values[i]`` is at x = i + 1 (or at ``categories[i]``)."""

    name: str
    values: tuple[float, ...]
    role: Role = "student"

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"series role must be one of {ROLES}, got {self.role!r}")
        object.__setattr__(self, "values", _floats(self.values))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "values": list(self.values), "role": self.role}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Series:
        return cls(name=d["name"], values=_floats(d["values"]), role=d["role"])


@dataclass(frozen=True)
class Figure:
    """A chart's data and words; see the module doc for what each kind draws.

    caption    : one or two sentences saying what the picture shows, in words
    categories : x labels of a bar chart (``gradient_error``), one per value
    check_id   : the check whose evidence this pictures ("" for the whole submission)
    """

    id: str
    kind: FigureKind
    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    log_y: bool = False
    caption: str = ""
    categories: tuple[str, ...] = ()
    check_id: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"figure kind must be one of {KINDS}, got {self.kind!r}")
        object.__setattr__(self, "series", tuple(self.series))
        object.__setattr__(self, "categories", tuple(self.categories))
        if self.categories and any(len(s.values) != len(self.categories) for s in self.series):
            raise ValueError(f"figure {self.id!r}: every series needs one value per category")

    def of_role(self, role: Role) -> tuple[Series, ...]:
        return tuple(s for s in self.series if s.role == role)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "x_label": self.x_label,
            "y_label": self.y_label,
            "series": [s.to_dict() for s in self.series],
            "log_y": self.log_y,
            "caption": self.caption,
            "categories": list(self.categories),
            "check_id": self.check_id,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Figure:
        return cls(
            id=d["id"],
            kind=d["kind"],
            title=d["title"],
            x_label=d["x_label"],
            y_label=d["y_label"],
            series=tuple(Series.from_dict(s) for s in d["series"]),
            log_y=bool(d["log_y"]),
            caption=d["caption"],
            categories=tuple(d.get("categories", ())),
            check_id=d.get("check_id", ""),
        )


# ---------------------------------------------------------------------------
# Builders: the grader's numbers -> a Figure with the words that go with it


def convergence(
    student: Sequence[float],
    reference: Sequence[float] | None = None,
    envelope: tuple[Sequence[float], Sequence[float]] | None = None,
    *,
    id: str = "convergence",
    check_id: str = "",
    y_label: str = "cost",
    log_y: bool = False,
    caption: str = "",
) -> Figure:
    """Your cost per epoch against the reference's replay, or inside an envelope (low, high)."""
    series = [Series("your cost", _floats(student), "student")]
    if reference is not None:
        series.append(Series("reference (same shuffles)", _floats(reference), "reference"))
    if envelope is not None:
        series.append(Series("lowest correct", _floats(envelope[0]), "envelope_low"))
        series.append(Series("highest correct", _floats(envelope[1]), "envelope_high"))
    against = (
        "the reference replayed on the same shuffles (dashed)"
        if reference is not None
        else "the band correct submissions reach (shaded)"
        if envelope is not None
        else "nothing else"
    )
    return Figure(
        id=id,
        kind="convergence",
        title="Cost per epoch",
        x_label="epoch",
        y_label=y_label,
        series=tuple(series),
        log_y=log_y,
        caption=caption
        or f"Your cost at the end of each epoch (solid line) against {against}. "
        "Lines that lie on each other mean your training matches.",
        check_id=check_id,
    )


def gradient_error(
    errors: Mapping[str, float],
    tolerance: float | None = None,
    *,
    id: str = "gradient_error",
    check_id: str = "",
    caption: str = "",
) -> Figure:
    """One bar per gradient array: its max relative error against the reference (log scale)."""
    names = tuple(errors)
    series = [Series("your relative error", tuple(errors.values()), "student")]
    if tolerance is not None:
        series.append(Series("tolerance", (tolerance,) * len(names), "reference"))
    return Figure(
        id=id,
        kind="gradient_error",
        title="Relative error of each gradient array",
        x_label="gradient array",
        y_label="max relative error",
        series=tuple(series),
        log_y=True,
        caption=caption
        or "Each bar is one gradient array's largest relative error against the reference "
        "(log scale): below 1e-7 is right, above 1e-2 is wrong (lecture: gradient checking).",
        categories=names,
        check_id=check_id,
    )


def gradient_magnitude(
    per_layer: Mapping[str, Sequence[float]],
    *,
    id: str = "gradient_magnitude",
    check_id: str = "",
    caption: str = "",
) -> Figure:
    """Mean |gradient| of each layer per epoch, one line per layer (log scale)."""
    return Figure(
        id=id,
        kind="gradient_magnitude",
        title="Gradient magnitude per layer",
        x_label="epoch",
        y_label="mean |gradient|",
        series=tuple(
            Series(name, _floats(values), "student") for name, values in per_layer.items()
        ),
        log_y=True,
        caption=caption
        or "The average size of each layer's gradient at each epoch (log scale). "
        "Layers far from the output getting much smaller gradients is the vanishing-gradient problem.",
        check_id=check_id,
    )


SCATTER_POINTS = 150  # enough dots to show a pattern, few enough to keep a page small


def scatter(
    name: str,
    student: Sequence[float],
    correct: Sequence[float],
    *,
    id: str = "scatter",
    check_id: str = "",
    caption: str = "",
) -> Figure:
    """Each entry of the student's array against the correct value of the same entry.

    At most :data:`SCATTER_POINTS` entries, evenly spaced over the flattened array,
    so a large array draws as quickly as a small one and shows the same pattern.
    """
    mine, theirs = _floats(student), _floats(correct)
    if len(mine) != len(theirs):
        raise ValueError(f"figure {id!r}: the two arrays must have the same number of entries")
    step = max(1, -(-len(mine) // SCATTER_POINTS))
    return Figure(
        id=id,
        kind="scatter",
        title=f"Your {name} against the correct {name}",
        x_label=f"correct {name}",
        y_label=f"your {name}",
        series=(
            Series(f"your {name}", mine[::step], "student"),
            Series(f"correct {name}", theirs[::step], "reference"),
        ),
        caption=caption
        or f"Each dot is one entry of your {name} (up) against its correct value (across). "
        "Correct entries lie on the dashed diagonal; dots on a line sloping down mean a sign "
        "error, dots on a steeper or flatter line a factor too large or too small.",
        check_id=check_id,
    )
