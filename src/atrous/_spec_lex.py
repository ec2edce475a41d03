"""The lexer and parser of the layer-spec language (:mod:`atrous.spec`): text to an AST.

Private: :mod:`atrous.spec` re-exports the limits (:data:`MAX_LAYERS`, :data:`MAX_DEPTH`,
:data:`MAX_CHARS`) and turns the AST into layers.

    >>> [t.text for t in _lex("res(3x3 d2)*2")]
    ['res', '(', '3x3', 'd2', ')', '*', '2', '']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import SpecError

BLOCKS = {"res": "add", "add": "add", "par": "concat", "cat": "concat", "mul": "mul"}
_DIGITS = re.compile(r"[0-9]+\Z")

MAX_LAYERS = 100_000
"""The most layers one spec may expand to (repeats included)."""
MAX_DEPTH = 64
"""The deepest nesting of groups and blocks a spec may have."""
MAX_CHARS = 4_000_000
"""The longest spec text (characters) :func:`parse` reads; longer ones are refused unread."""


# -- lexer ------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Tok:
    kind: str  # "word", "str", or the punctuation character itself, or "end"
    text: str
    pos: int
    value: str = ""


_TOKEN = re.compile(
    r'(?P<p>[,;()|*])|(?P<w>[^\s,;()|*"]+)(?P<ws>"(?:[^"\\]|\\.)*")?'
    r'|(?P<s>"(?:[^"\\]|\\.)*")|(?P<bad>")',
    re.DOTALL,
)
_LONG_NUMBER = re.compile(r"[0-9]{19,}")  # 10^18 and above
_NAMED = re.compile(r"(?:pw|dense|opaque):")


def _string(text: str, literal: str, pos: int) -> str:
    try:
        value = json.loads(literal)
    except ValueError:
        raise SpecError("bad string literal", text, pos) from None
    return str(value)


def _lex(text: str, start: int = 0) -> list[_Tok]:
    """Tokens of ``text[start:]`` (positions index ``text``), ending with an ``end`` token.

    Refuses, before any further work, a spec with more than :data:`MAX_LAYERS` items and
    numbers of 19 digits or more (outside ``pw:``/``dense:``/``opaque:`` names).
    """
    toks: list[_Tok] = []
    append = toks.append
    check_numbers = _LONG_NUMBER.search(text, start) is not None
    commas = 0
    for m in _TOKEN.finditer(text, start):
        kind = m.lastgroup
        if kind == "w":
            word = m.group()
            if check_numbers:
                _check_number(text, word, m.start())
            append(_Tok("word", word, m.start()))
        elif kind == "p":
            ch = m.group()
            if ch == "," or ch == ";":
                commas += 1
                if commas >= MAX_LAYERS:  # every ',' starts one more layer
                    raise SpecError(
                        f"the spec has more than {MAX_LAYERS} layers (layer {MAX_LAYERS + 1} "
                        f"starts after this ','); a spec holds at most {MAX_LAYERS}",
                        text, m.start(),
                    )
                ch = ","
            append(_Tok(ch, m.group(), m.start()))
        elif kind == "ws":
            word, at, lit, lit_at = m.group("w"), m.start(), m.group("ws"), m.start("ws")
            if check_numbers:
                _check_number(text, word, at)
            if word.endswith(":"):  # pw:"long name"
                append(_Tok("word", word, at, _string(text, lit, lit_at)))
            else:
                append(_Tok("word", word, at))
                append(_Tok("str", lit, lit_at, _string(text, lit, lit_at)))
        elif kind == "s":
            at = m.start()
            append(_Tok("str", m.group(), at, _string(text, m.group(), at)))
        else:
            raise SpecError("unterminated string", text, m.start())
    toks.append(_Tok("end", "", len(text)))
    return toks


def _check_number(text: str, word: str, at: int) -> None:
    if _NAMED.match(word):
        return
    big = _LONG_NUMBER.search(word)
    if big:
        digits = big.group()
        raise SpecError(
            f"number {digits[:12]}... ({len(digits)} digits) is too large: numbers in a spec "
            "are below 10^18",
            text, at + big.start(),
        )


# -- AST --------------------------------------------------------------------------------------
@dataclass
class _LayerAst:
    head: str
    pos: int
    words: list[_Tok]
    axes: list[tuple[int, int, str]] = field(default_factory=list)  # (n axes, pos, token)


@dataclass
class _BlockAst:
    mode: str  # add | concat | mul
    residual: bool
    pos: int
    branches: list[list[Any]]


class _Parser:
    def __init__(self, text: str, start: int = 0) -> None:
        self.text = text
        self.toks = _lex(text, start)
        self.i = 0
        self.depth = 0
        self.total = 0  # layers so far, repeats expanded: refused as soon as it passes the cap

    def count(self, added: int, pos: int, what: str) -> None:
        self.total += added
        if self.total > MAX_LAYERS:
            raise self.error(
                f"{what} makes {self.total} layers; a spec holds at most {MAX_LAYERS}", pos
            )

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, message: str, pos: int) -> SpecError:
        return SpecError(message, self.text, pos)

    def expect(self, kind: str, what: str) -> _Tok:
        tok = self.peek()
        if tok.kind != kind:
            found = "the end of the spec" if tok.kind == "end" else repr(tok.text)
            raise self.error(f"expected {what}, found {found}", tok.pos)
        return self.take()

    def seq(self, closers: str) -> list[Any]:
        items: list[Any] = []
        toks = self.toks
        while True:
            tok = toks[self.i]
            if tok.kind in closers or tok.kind == ",":
                found = "the end of the spec" if tok.kind == "end" else repr(tok.text)
                raise self.error(f"expected a layer, found {found}", tok.pos)
            if tok.kind == "word" and tok.text not in BLOCKS:  # a plain layer: the common case
                items.extend(self._item(tok))
            else:
                items.extend(self.item())
            tok = toks[self.i]
            if tok.kind == ",":
                self.i += 1
                continue
            if tok.kind in closers:
                return items
            found = "the end of the spec" if tok.kind == "end" else repr(tok.text)
            wanted = {"end": "',' between items", ")": "',' or ')'", "|)": "',', '|' or ')'"}
            raise self.error(f"expected {wanted[closers]}, found {found}", tok.pos)

    def item(self) -> list[Any]:
        tok = self.peek()
        if tok.kind == "(" or (tok.kind == "word" and tok.text in BLOCKS):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"groups and blocks nest more than {MAX_DEPTH} deep", tok.pos)
        items = self._item(tok)
        if tok.kind == "(" or (tok.kind == "word" and tok.text in BLOCKS):
            self.depth -= 1
        return items

    def _item(self, tok: _Tok) -> list[Any]:
        before = self.total
        if tok.kind == "(":
            self.take()
            items = self.seq(")")
            self.expect(")", "')'")
        elif tok.kind == "word" and tok.text in BLOCKS and self.toks[self.i + 1].kind == "(":
            self.take()
            self.take()
            branches: list[list[Any]] = []
            while True:
                nxt = self.peek()
                if nxt.kind in "|)":
                    branches.append([])
                elif nxt.kind == "word" and nxt.text == "skip" and self.toks[
                    self.i + 1
                ].kind in "|)":
                    self.take()
                    branches.append([])
                else:
                    branches.append(self.seq("|)"))
                sep = self.take()
                if sep.kind == ")":
                    break
            residual = tok.text == "res"
            if residual:
                if len(branches) > 2:
                    raise self.error(
                        f"res(body | shortcut) takes at most 2 branches, got {len(branches)}",
                        tok.pos,
                    )
                if len(branches) == 1:
                    branches.append([])
            elif len(branches) < 2:
                raise self.error(
                    f"{tok.text}(...) needs at least 2 branches separated by '|'", tok.pos
                )
            if not branches[0] and residual:
                raise self.error("res(...) needs a body", tok.pos)
            self.count(1, tok.pos, "this block")
            items = [_BlockAst(BLOCKS[tok.text], residual, tok.pos, branches)]
        elif tok.kind == "word":
            toks, start = self.toks, self.i
            end = start + 1
            while toks[end].kind == "word" or toks[end].kind == "str":
                end += 1
            self.i = end
            words = toks[start:end]
            self.total += 1
            if self.total > MAX_LAYERS:
                self.count(0, tok.pos, "this layer")
            items = [_LayerAst(tok.text, tok.pos, words)]
        else:
            found = "the end of the spec" if tok.kind == "end" else repr(tok.text)
            raise self.error(f"expected a layer, found {found}", tok.pos)
        if self.peek().kind == "*":
            star = self.take()
            count = self.expect("word", "a repeat count after '*'")
            if not _DIGITS.match(count.text) or int(count.text) < 1:
                raise self.error(
                    f"a repeat count must be an integer >= 1, got {count.text!r}", count.pos
                )
            del star
            times = int(count.text)
            self.count((self.total - before) * (times - 1), count.pos, "this repeat")
            items = items * times
        return items
