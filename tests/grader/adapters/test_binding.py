"""AdapterBinding: a rubric's [adapter] table validated, defaults filled in, clear errors."""

from __future__ import annotations

import tomllib

import pytest

from grader.adapters.binding import AdapterBinding, BindingError, binding_for


def test_defaults_fill_a_minimal_table():
    """style alone gives the course's names: _get_gradient, W1, n_features_, keyword C."""
    b = AdapterBinding.from_table({"style": "course_separate"})
    assert b.class_name == "TLPMiniBatch"
    assert b.method("gradients") == "_get_gradient"
    assert b.attributes["n_features"] == "n_features_"
    assert b.constructor["C"] == "C"
    assert b.gradient_returns == ("W1", "W2", "b1", "b2")


def test_methods_override_role_by_role():
    """Overriding one method keeps the others; "" means the API has none."""
    b = binding_for("course_separate", methods={"gradients": "backprop", "schedule": ""})
    assert b.method("gradients") == "backprop"
    assert b.method("forward") == "_feedforward"
    assert b.method("schedule") == ""


def test_constructor_table_merges_key_by_key():
    """A constructor pin changes only the keywords it names; "" stops one being passed."""
    b = binding_for("textbook_rows", constructor={"n_hidden": "num_hidden", "shuffle": ""})
    assert b.constructor["n_hidden"] == "num_hidden"
    assert b.constructor["shuffle"] == ""
    assert b.constructor["C"] == "l2"  # the style's default, kept


def test_adapter_conventions_set_a_convention_for_every_check():
    from grader.adapters.conventions import conventions

    b = binding_for("course_separate", conventions={"loss": "bce"})
    assert conventions(b, {})["loss"] == "bce"
    assert conventions(b, {"loss": "squared"})["loss"] == "squared"  # a check's own wins
    with pytest.raises(ValueError, match="unknown key 'lose'"):
        conventions(binding_for("course_separate", conventions={"lose": "bce"}), {})


def test_round_trip_through_json():
    """from_table(to_json()) gives the same binding, for every built-in style."""
    for style in ("template", "course_separate", "course_folded", "textbook_rows"):
        b = binding_for(style)
        assert AdapterBinding.from_table(b.to_json()) == b


def test_a_rubric_table_parses():
    """A TOML [adapter] table as a rubric writes it becomes a binding."""
    table = tomllib.loads(
        """
        [adapter]
        style = "textbook_rows"
        class = "MLP"
        layout = "rows_out_in"
        gradient_returns = ["w_h", "b_h", "w_out", "b_out"]
        [adapter.methods]
        gradients = "backward"
        """
    )["adapter"]
    b = AdapterBinding.from_table(table)
    assert (b.class_name, b.layout, b.method("gradients")) == ("MLP", "rows_out_in", "backward")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "adapter.style is required; allowed: template, course_separate"),
        ({"style": "keras"}, "adapter.style 'keras' is not allowed; allowed: template"),
        ({"style": "template", "klass": "X"}, "unknown key 'klass'; allowed: style, class"),
        (
            {"style": "course_separate", "bias": "folded"},
            "adapter.bias 'folded' is not allowed for style 'course_separate'; allowed: separate",
        ),
        (
            {"style": "course_folded", "layout": "rows"},
            "adapter.layout 'rows' is not allowed for style 'course_folded'; allowed: columns",
        ),
        (
            {"style": "course_separate", "methods": {"fitt": "fit"}},
            "adapter.methods: unknown role 'fitt'; allowed: forward",
        ),
        (
            {"style": "course_separate", "methods": {"train": "fit me"}},
            "adapter.methods.train must be a Python name",
        ),
        (
            {"style": "course_separate", "constructor": {"lr": "eta"}},
            "adapter.constructor: unknown role 'lr'; allowed: n_features",
        ),
        (
            {"style": "course_separate", "class": ""},
            "adapter.class must be the student's class name",
        ),
        (
            {"style": "course_separate", "gradient_returns": ["W1", "W2", "b1"]},
            "must list each of W1, W2, b1, b2 once",
        ),
        ({"style": "textbook_rows", "forward_returns": ["z_h", "a_h"]}, "must name 'a_out'"),
        (
            {"style": "textbook_rows", "gradient_args": ["X", "labels"]},
            "adapter.gradient_args: 'labels' is not allowed",
        ),
        ({"style": "custom"}, "adapter.custom_file must name a .py file"),
        ({"style": "custom", "custom_file": "../x.py"}, "a bare file name"),
        ({"style": "template", "custom_file": "x.py"}, "only allowed with style = 'custom'"),
        (
            {"style": "custom", "custom_file": "x.py", "custom_like": "torch"},
            "adapter.custom_like 'torch' is not allowed",
        ),
    ],
)
def test_errors_name_the_key_and_what_is_allowed(table, message):
    """Each mistake in an [adapter] table gives a BindingError naming the key and the choices."""
    with pytest.raises(BindingError) as err:
        AdapterBinding.from_table(table)
    assert message in str(err.value)


def test_custom_binding_takes_its_layout_from_custom_like():
    """A custom adapter file uses the named built-in style's layout and output names."""
    b = binding_for("custom", custom_file="my_adapter.py", custom_like="course_folded")
    assert b.adapter_style == "course_folded" and b.bias == "folded"
    assert b.to_json()["custom_file"] == "my_adapter.py"


def test_binding_is_immutable():
    """A binding cannot change after validation (its tables are read-only)."""
    b = binding_for("course_separate")
    with pytest.raises(TypeError):
        b.methods["gradients"] = "x"  # type: ignore[index]
