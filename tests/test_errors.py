"""The one error hierarchy: AtrousError is a ValueError; messages name the value and the rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import atrous
from atrous.errors import AtrousError, SpecError, TooLargeError


def test_hierarchy() -> None:
    assert issubclass(AtrousError, ValueError)
    assert issubclass(SpecError, AtrousError)
    assert issubclass(TooLargeError, AtrousError)
    assert atrous.AtrousError is AtrousError and atrous.SpecError is SpecError


def test_plain_value_error_handlers_catch_atrous_errors() -> None:
    """Code written against ValueError (as for torch's own checks) keeps working."""
    with pytest.raises(ValueError, match="dilation must be >= 1, got 0"):
        atrous.conv_output_size(64, 3, dilation=0)


@pytest.mark.parametrize(
    ("text", "position", "caret_line"),
    [
        ("3x3 d1, 3x3 q2", 12, "  " + " " * 12 + "^"),
        ("x", 0, "  ^"),
        ("3x3 d2,", 7, "  " + " " * 7 + "^"),  # one past the end: "something missing here"
    ],
)
def test_spec_error_points_a_caret_at_the_position(
    text: str, position: int, caret_line: str
) -> None:
    err = SpecError("unknown option 'q'", text, position)
    lines = str(err).splitlines()
    assert lines == ["unknown option 'q'", f"  {text}", caret_line]
    assert lines[2].index("^") - 2 == position  # the caret sits under text[position]
    assert (err.text, err.position) == (text, position)


def test_spec_error_without_text_is_just_the_message() -> None:
    assert str(SpecError("empty spec")) == "empty spec"


# Each case: the call, the offending value as it must appear, and words of the rule it broke.
MESSAGES: list[tuple[Callable[[], Any], str, str]] = [
    (lambda: atrous.conv_output_size(64, 3, dilation=0), "got 0", "dilation must be >= 1"),
    (lambda: atrous.conv_output_size(64, 3, stride=-2), "got -2", "stride must be >= 1"),
    (lambda: atrous.conv_output_size(64, 2.5), "got 2.5", "kernel must be an integer"),
    (lambda: atrous.conv_output_size(64, 3, padding="full"), "'full'", "'valid' or 'same'"),
    (lambda: atrous.conv_output_size(3, 3, dilation=2), "effective kernel 5 = 2*(3-1)+1",
     "smaller than"),
    (lambda: atrous.pool_output_size(8, 3, padding=2), "padding 2", "at most half the kernel"),
    (lambda: atrous.conv_transpose_output_size(7, 3, 2, output_padding=3),
     "output_padding 3", "smaller than the stride or the dilation"),
    (lambda: atrous.output_padding_for(7, 20, 3, 2, 1), "target 20",
     "output_padding must be smaller than max(stride 2, dilation 1)"),
    (lambda: atrous.same_padding(3, stride=2), "stride 2", "depends on the input size"),
    (lambda: atrous.explain("dilate", 64, 3), "'dilate'", "op must be one of"),
    (lambda: atrous.pool_output_size(8, 2, mode="median"), "'median'", "pool mode must be one of"),
]


@pytest.mark.parametrize(("call", "value", "rule"), MESSAGES)
def test_messages_name_the_value_and_the_rule(
    call: Callable[[], Any], value: str, rule: str
) -> None:
    with pytest.raises(AtrousError) as info:
        call()
    message = str(info.value)
    assert value in message and rule in message
    assert "\n" not in message  # one line: the CLI prints it as is


def test_cli_turns_atrous_errors_into_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from atrous.cli import main

    assert main(["shape", "64", "-k", "3", "-d", "0"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "atrous shape: error: every dilation entry must be >= 1, got '0'"
    ]


def test_unwritable_output_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from atrous.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["report", "3x3 d2", "-o", str(blocker / "x.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("atrous report: error: cannot write")


def test_messages_name_values_not_internal_tuples() -> None:
    with pytest.raises(AtrousError, match=r"\(64, 48\) has 2, \(3, 3, 3\) has 3"):
        atrous.conv_output_size((64, 48), (3, 3, 3))
    for fn in (atrous.coverage, atrous.receptive_field, atrous.analyze):
        with pytest.raises(AtrousError, match="input_size must be an int or a tuple"):
            fn("3x3", input_size="64x64")  # type: ignore[operator]


# -- wrong types name the parameter (issue 14) --------------------------------------------------
np = pytest.importorskip("numpy")

WRONG_TYPES: list[tuple[str, Callable[[], Any], str]] = [
    ("rf input float", lambda: atrous.receptive_field("3x3 s2", input_size=5.0), "input_size"),
    ("analyze input float", lambda: atrous.analyze("3x3", input_size=5.0), "input_size"),
    ("coverage input float", lambda: atrous.coverage("3x3", input_size=5.0), "input_size"),
    ("coverage node list", lambda: atrous.coverage("3x3", node=[]), "node"),
    ("rf output list", lambda: atrous.receptive_field("3x3", output=[]), r"\[\]"),
    ("design objective array", lambda: atrous.design(objective=np.array([1, 2])), "objective"),
    ("parse ndim float", lambda: atrous.parse("relu", ndim=2.0), "ndim"),
    ("parse ndim 4", lambda: atrous.parse("relu", ndim=4), "ndim"),
    ("conv size float", lambda: atrous.conv_output_size(5.0, 3), "size"),
    ("rates array", lambda: atrous.hdc_check(np.array([1, 2, 5])), "rates"),
]


@pytest.mark.parametrize(("case", "call", "name"), WRONG_TYPES, ids=[c[0] for c in WRONG_TYPES])
def test_wrong_types_are_atrous_errors_naming_the_parameter(
    case: str, call: Callable[[], Any], name: str
) -> None:
    with pytest.raises(AtrousError, match=name):
        call()


def test_sizes_accept_numpy_integers_and_arrays() -> None:
    want = atrous.receptive_field("3x3 s2, 3x3", input_size=(9, 9))
    assert atrous.receptive_field("3x3 s2, 3x3", input_size=np.array([9, 9])) == want
    assert atrous.receptive_field("3x3 s2, 3x3", input_size=np.int64(9)) == want


def test_normalisers() -> None:
    from atrous._types import as_choice, as_int, as_key, as_size

    assert as_int(np.int32(4), "k") == 4 and type(as_int(np.int32(4), "k")) is int
    assert as_size(np.array([3, 4]), "input_size") == (3, 4)
    for bad in (True, 2.5, "8", None, {"a": 1}, [1, [2]]):
        with pytest.raises(AtrousError, match="input_size"):
            as_size(bad, "input_size")
    with pytest.raises(AtrousError, match="must not be empty"):
        as_size([], "input_size")
    with pytest.raises(AtrousError, match="node must be a node name"):
        as_key(["conv0"], "node")
    with pytest.raises(AtrousError, match="objective must be one of 'a', 'b'"):
        as_choice(np.array(["a"]), ("a", "b"), "objective")

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    with pytest.raises(AtrousError, match="<Hostile>"):
        as_int(Hostile(), "kernel")
    with pytest.raises(AtrousError) as err:
        as_int("x" * 10_000, "kernel")
    assert len(str(err.value)) < 200


def test_integers_past_64_bits_are_refused_by_name() -> None:
    """Sizes past PyTorch's int64 (and ints too long to print) give AtrousError, not ValueError."""
    with pytest.raises(AtrousError, match=r"size must be below 2\*\*63 .* about 5001 digits"):
        atrous.conv_output_size(-(10**5000), 3)
    with pytest.raises(AtrousError, match="kernel must be below 2"):
        atrous.conv_output_size(64, 2**63)
    assert atrous.conv_output_size(2**62, 1) == 2**62
