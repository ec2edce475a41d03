"""Attack suite, spec language: strings from the grammar, then mutated, thrown at ``parse``.

The property: ``parse(text)`` either succeeds, and then ``to_spec`` writes text that parses back
to the same graph (and is canonical), or it raises :class:`~atrous.errors.SpecError`. Nothing
else: no ``ValueError``/``TypeError``/``IndexError``/``RecursionError`` from inside, no hang.

The default run is a bounded, deterministic sample (``derandomize=True``, a few hundred
examples, a few seconds). ``ATROUS_ATTACK=full pytest tests/test_attack_*.py`` runs many more
(and random, not derandomised) examples.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atrous.errors import AtrousError, SpecError
from atrous.spec import parse, structurally_equal, to_spec

FULL = os.environ.get("ATROUS_ATTACK") == "full"
ATTACK = settings(
    max_examples=5000 if FULL else 30,
    derandomize=not FULL,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# -- the grammar ---------------------------------------------------------------------------------
NUM = st.sampled_from(["1", "2", "3", "4", "5", "10", "65"])
SMALL = st.sampled_from(["1", "2", "3"])


def sizes(nd: int, num: st.SearchStrategy[str] = SMALL) -> st.SearchStrategy[str]:
    return num | st.lists(num, min_size=nd, max_size=nd).map("x".join)


def opts(*choices: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Some of the options, each at most once, in any order."""
    return st.lists(st.sampled_from(range(len(choices))), unique=True, max_size=3).flatmap(
        lambda idx: st.tuples(*(choices[i] for i in idx)).map(" ".join)
    )


def layer(nd: int) -> st.SearchStrategy[str]:
    k = sizes(nd)
    conv_opts = opts(
        sizes(nd).map("s{}".format), sizes(nd).map("d{}".format),
        st.sampled_from(["p1", "p0:1", "same", "valid", "centred", "p2x1" if nd == 2 else "p1"]),
        st.just("c8"), st.just("nobias"), st.just("g1"),
    )
    wild = st.sampled_from(["s0", "d0", "q7", "c3:", "g0", "op1", "ceil", "align", "max"])
    return st.one_of(
        st.tuples(k, conv_opts).map(" ".join),
        st.tuples(st.just("conv"), k, conv_opts).map(" ".join),
        st.tuples(st.just("tconv"), k, opts(st.just("s2"), st.just("p1"), st.just("op0"),
                                             st.just("d2"))).map(" ".join),
        st.tuples(st.just("maxpool"), k, opts(st.just("s2"), st.just("p1"), st.just("ceil"),
                                               st.just("d2"))).map(" ".join),
        st.tuples(st.just("avgpool"), k, opts(st.just("s1"), st.just("ceil"))).map(" ".join),
        st.tuples(st.just("apool "), sizes(nd, NUM), st.sampled_from(["", " max"])).map("".join),
        st.tuples(st.just("resize"), sizes(nd, NUM),
                  st.sampled_from(["", " bilinear", " bilinear align", " nearest-exact"])
                  ).map(" ".join),
        st.tuples(st.just("up"), sizes(nd), st.sampled_from(["", " bilinear"])).map("".join),
        st.tuples(st.just("pad"), st.sampled_from(["1", "0:1", "2"])).map(" ".join),
        st.sampled_from(["relu", "bn", "id", "gpool", "gpool max", "dense", "pw:gelu",
                         "opaque:roll", 'pw:"a b"', "dense:fc", "fc", "pw:x.y-z"]),
        st.tuples(k, wild).map(" ".join),  # something wrong, now and then
    )


def spec(nd: int) -> st.SearchStrategy[str]:
    items = st.recursive(
        layer(nd),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: "(" + ", ".join(xs) + ")"),
            st.tuples(
                st.sampled_from(["res", "add", "par", "cat", "mul"]),
                st.lists(st.lists(inner, max_size=2).map(", ".join), min_size=2, max_size=3),
            ).map(lambda t: f"{t[0]}({' | '.join(t[1])})"),
            st.tuples(inner, st.integers(1, 3)).map(lambda t: f"{t[0]}*{t[1]}"),
        ),
        max_leaves=6,
    )
    head = st.sampled_from(["", "", "", f"{nd}d:", f"{nd}d: "])
    return st.tuples(head, st.lists(items, min_size=1, max_size=4).map(", ".join)).map(
        lambda t: t[0] + t[1]
    )


HOSTILE = [
    *',;()|*"\\:x -', "²", "①", "٣", "\u202e", "\x1b[31m", "\n", "\x00", "é", "9" * 30, "*0",
    "*-1", ")(", "((", '"\\u0000"', "\ud800",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.integers(1, 3).flatmap(spec))
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["insert", "delete", "swap", "dup"]))
        i = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:i] + draw(st.sampled_from(HOSTILE)) + text[i:]
        elif op == "delete" and text:
            text = text[:i] + text[i + 1:]
        elif op == "swap" and len(text) > 1:
            j = draw(st.integers(0, len(text) - 1))
            chars = list(text)
            chars[min(i, len(text) - 1)], chars[j] = chars[j], chars[min(i, len(text) - 1)]
            text = "".join(chars)
        elif op == "dup":
            j = draw(st.integers(i, min(len(text), i + 12)))
            text = text[:j] + text[i:j] + text[j:]
    return text


def check(text: str, **kwargs: Any) -> str:
    """parse -> to_spec -> parse round trip, or a SpecError; returns which happened."""
    start = time.process_time()
    try:
        graph = parse(text, **kwargs)
    except SpecError as exc:
        assert str(exc).splitlines()[0], "an empty message"
        return "refused"
    finally:
        assert time.process_time() - start < 5, f"parse took too long on {text[:80]!r}"
    try:
        written = to_spec(graph)
    except AtrousError as exc:  # pragma: no cover - a failure of the property
        raise AssertionError(f"{text!r} parses but to_spec refuses it: {exc}") from None
    back = parse(written)
    assert structurally_equal(graph, back), (text, written)
    assert to_spec(back) == written, (text, written)
    return "parsed"


@ATTACK
@given(st.integers(1, 3).flatmap(spec))
def test_grammar_strings_parse_and_round_trip_or_are_spec_errors(text: str) -> None:
    check(text)


@ATTACK
@given(mutated())
def test_mutated_strings_parse_and_round_trip_or_are_spec_errors(text: str) -> None:
    check(text)


@ATTACK
@given(mutated(), st.sampled_from([None, 7, (9, 8), (1, 3, 16, 15), (5, 6, 7), 5.0, "8", []]))
def test_input_sizes_for_same_padding_never_crash(text: str, size: Any) -> None:
    with contextlib.suppress(AtrousError):  # an unusable size is refused where 'same' needs it
        check(text, input_size=size)


@pytest.mark.parametrize(
    "text",
    [
        "3x3 d²", "3x3*①", "٣x٣", "3x3 d" + "9" * 5000, "(3x3)*" + "9" * 4400, "2d:3x3",
        "2d:", "3d:3x3", '"', 'pw:"', 'pw:"\\', 'pw:"\\ud800"', "\x00", "(" * 70 + "3",
        "res(" * 65 + "3" + ")" * 65, "((3x3)*400)*400", "3x3*0", "3x3 p99:99", "apool 0",
        "resize 99999999999999999x1", "up0", "pad 1x1x1x1", "3x3x3x3", "1d: 3x3", "tconv 3 op9",
        "maxpool 3 p2", "avgpool 3 d2", "gpool max max", "res(|)", "par(3x3)", "add()", "*3",
        "3x3,", ",3x3", "3x3 s2 same", "maxpool 2x2 same ceil", "\u202e3x3", "3x3 \x1b[2J",
    ],
)
def test_known_hostile_specs(text: str) -> None:
    check(text)
