"""The layer-spec language: a short text form of a Graph that a person can type on a command line.

    >>> g = parse("3x3 d1, 3x3 d2, 3x3 d5")
    >>> [n.layer.dilation for n in g.layer_nodes()]
    [(1, 1), (2, 2), (5, 5)]
    >>> to_spec(parse("7x7 s2 p1, maxpool 3x3 s2 p1, res(3x3, 3x3), up2 bilinear"))
    '7x7 s2 p1, maxpool 3x3 s2 p1, res(3x3, 3x3), up2 bilinear'

Grammar
-------
A spec is a comma-separated sequence of items; each item is a layer (a head word plus options
separated by spaces), a group, or a block::

    spec    := ["1d:" | "2d:" | "3d:"] seq
    seq     := item ("," item)*
    item    := ( layer | "(" seq ")" | BLOCK "(" branch ("|" branch)* ")" ) ["*" N]
    branch  := seq | "skip" | (nothing)          -- an empty branch / "skip" is the identity

Sizes are written per axis with ``x``: ``3x3`` is a 2-D kernel, ``3`` a 1-D one, ``3x3x3`` a 3-D
one. The number of axes of the whole spec comes from its kernels; a spec with no kernel (only
``up2``, ``gpool``, ``relu``...) is 2-D unless it starts with ``1d:``/``3d:`` or ``parse`` gets
``ndim=``. Options take one value for every axis (``s2``) or one per axis (``s2x1``).

Layers:

- ``3x3 d2`` (or ``conv 3x3 d2``): convolution; options ``sN`` stride, ``dN`` dilation, ``pN`` /
  ``pL:R`` / ``p1x2`` / ``p0:1x1:1`` padding, ``centred`` / ``same`` / ``valid`` (below),
  ``gN`` groups, ``cOUT`` or
  ``cIN:OUT`` channels, ``nobias``.
- ``tconv 4x4 s2 p1 op1``: transposed conv (``opN`` output padding; ``dN``, ``gN`` and channels
  as for conv). Default padding 0, as in PyTorch.
- ``maxpool 3x3 s2 p1`` / ``avgpool 2x2``: pooling; the stride defaults to the kernel (PyTorch);
  ``dN`` (max only), ``pN`` (symmetric), ``same`` (TensorFlow's, below), ``ceil`` (ceil_mode).
- ``gpool`` / ``gpool max``: global pooling (every unit sees the whole input).
- ``apool 7x7`` / ``apool 1x1 max``: adaptive pooling to a fixed output size.
- ``up2`` / ``up2x1 bilinear align``: upsampling by an integer scale (``nearest``, ``linear``,
  ``bilinear``, ``bicubic``, ``trilinear``; ``align`` = ``align_corners=True``).
- ``resize 65x65`` / ``resize 513x513 bilinear align``: interpolation to a fixed output size at
  any ratio (``F.interpolate(size=...)``; modes as for ``up`` plus ``nearest-exact``). What it
  reads depends on the input size, so analyses need ``input_size``.
- ``pad 1`` / ``pad 0:1``: explicit padding (``F.pad``).
- ``relu``, ``bn``, ``id``, ``pw:NAME``: spatially pointwise ops (``id`` is the identity).
- ``dense`` / ``dense:NAME``: an op that reads every position (a Linear over a flattened map).
- ``opaque:NAME``: an op atrous does not understand (analyses then say partial).

Blocks: ``res(a, b)`` is ``a -> b`` plus an identity shortcut (``res(a, b | c)``: the shortcut is
``c``); ``add(a | b)``, ``mul(a | b)``, ``par(a | b | c)`` (or ``cat``, concatenation) merge
parallel branches fed by the same input. ``(a, b)*3`` repeats a group. A spec holds at most
100,000 layers (repeats expanded) and nests groups and blocks at most 64 deep.

Padding: ``centred`` (the default) and ``same`` (TensorFlow's rule)
-------------------------------------------------------------------
A convolution without a padding option gets the **centred padding**: the total ``d*(k-1)``
split as ``left = total // 2``, ``right = total - left`` (the extra pixel on the right for even
kernels), whatever the input size. At stride 1 the output has the input's size. So ``"3x3 d2"``
is ``Conv(3, padding=2, dilation=2)``, as in :func:`atrous.stack`. ``centred`` (or
``centered``) names this rule explicitly; ``valid`` means no padding.

``same`` is **TensorFlow's "SAME"**, the rule of :func:`atrous.same_padding`, ``atrous shape
--padding same`` and ``DilatedConv2d``: the output is ``ceil(n / s)`` and the total padding
``max((ceil(n/s) - 1)*s + d*(k-1) + 1 - n, 0)`` is split left-floor / right-ceil. At stride 1
it equals ``centred``; at stride ``s > 1`` it depends on the layer's input size ``n``, so
:func:`parse` needs ``input_size=`` (the analyses and the CLI's ``--input`` pass it) and
refuses ``same`` with a stride without it. ``"7x7 s2 same"`` on 224 pads ``(2, 3)`` as
TensorFlow does; ``"7x7 s2 centred"`` pads ``(3, 3)``. Pooling takes ``same`` too
(``maxpool 3x3 s2 same``); PyTorch pools pad symmetrically by at most half the kernel, so an
asymmetric or larger TensorFlow padding becomes an explicit ``pad L:R`` before the pool (the
same pixels are read). Transposed convolutions keep PyTorch's default (padding 0), and so do
pools without ``same``.

Errors raise :class:`~atrous.errors.SpecError` with the position of the offending token:

    >>> parse("3x3 d2, 3x3 q7")
    Traceback (most recent call last):
    ...
    atrous.errors.SpecError: unknown option 'q7' for a conv (expected s, d, p, g, c, same, centred,
    valid, nobias)
      3x3 d2, 3x3 q7
                  ^
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from ._spec_lex import (
    _DIGITS,
    MAX_CHARS,
    _LayerAst,
    _Parser,
    _Tok,
)
from ._spec_lex import BLOCKS as BLOCKS  # re-exported: the lexer and parser live there
from ._spec_lex import MAX_DEPTH as MAX_DEPTH
from ._spec_lex import MAX_LAYERS as MAX_LAYERS
from ._types import Ints, Pairs, as_int, as_size
from .arith import same_padding
from .errors import AtrousError, SpecError
from .graph import Graph, Node, chain, parallel
from .layers import (
    AdaptivePool,
    Conv,
    ConvTranspose,
    Dense,
    GlobalPool,
    Layer,
    Merge,
    Opaque,
    Pad,
    Pointwise,
    Pool,
    Resize,
    Upsample,
)

__all__ = ["default_padding", "parse", "structurally_equal", "to_spec"]

POINTWISE_WORDS = frozenset(
    {
        "relu", "relu6", "gelu", "silu", "swish", "mish", "sigmoid", "tanh", "elu", "selu",
        "leakyrelu", "prelu", "hardswish", "hardsigmoid", "softmax", "bn", "batchnorm", "ln",
        "layernorm", "gn", "groupnorm", "instancenorm", "norm", "dropout", "act", "shuffle",
        "identity",
    }
)
UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear")
RESIZE_MODES = ("nearest", "nearest-exact", *UPSAMPLE_MODES[1:])
_PADDING_WORDS = ("same", "centred", "centered", "valid")
_NAME = re.compile(r"[A-Za-z_][\w.\-/]*\Z")
_INTS = re.compile(r"[0-9]+(?:x[0-9]+)*\Z")
_PADS = re.compile(r"[0-9]+(?::[0-9]+)?(?:x[0-9]+(?::[0-9]+)?)*\Z")


def default_padding(kernel: Ints, dilation: Ints) -> Pairs:
    """The spec language's default conv padding: ``d*(k-1)`` split left-floor / right-ceil.

    >>> default_padding((3, 4), (2, 1))
    ((2, 2), (1, 2))
    """
    pairs: Pairs = same_padding(tuple(kernel), 1, tuple(dilation))
    return pairs


# -- layers from words ------------------------------------------------------------------------
def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split("x"))


def _pads(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in text.split("x"):
        lo, _, hi = part.partition(":")
        out.append((int(lo), int(hi) if hi else int(lo)))
    return tuple(out)


class _Builder:
    """Turns the AST into layers once the number of axes is known."""

    def __init__(self, text: str, ndim: int, input_size: Any = None) -> None:
        self.text = text
        self.ndim = ndim
        self.cache: dict[Any, list[Layer]] = {}
        self.input_size: Ints | None = None
        self.unknown = " (no input size was given)"  # why a size is None, for messages
        if input_size is not None:
            try:
                size = as_size(input_size, "input_size")
                if len(size) == ndim + 2:  # a full (N, C, *spatial) tensor shape
                    size = size[2:]
                if len(size) == 1:
                    size = size * ndim
                if len(size) != ndim:
                    raise AtrousError(
                        f"input_size must have {ndim} spatial sizes (or a full (N, C, ...) "
                        f"shape), got {input_size!r}"
                    )
                self.input_size = size
            except AtrousError as exc:  # raised only if a layer needs the size
                self.unknown = f" (input_size is unusable: {exc})"

    def error(self, message: str, pos: int) -> SpecError:
        return SpecError(message, self.text, pos)

    def per_axis(self, values: tuple[Any, ...], tok: _Tok, what: str) -> tuple[Any, ...]:
        if len(values) == 1:
            return values * self.ndim
        if len(values) != self.ndim:
            raise self.error(
                f"{what} {tok.text!r} has {len(values)} entries but the spec is {self.ndim}-D",
                tok.pos,
            )
        return values

    def size(self, tok: _Tok, what: str) -> Ints:
        if not _INTS.match(tok.text):
            raise self.error(f"expected a {what} like 3 or 3x3, got {tok.text!r}", tok.pos)
        values = _ints(tok.text)
        if min(values) < 1:
            raise self.error(f"{what} must be >= 1, got {tok.text!r}", tok.pos)
        if len(values) != self.ndim:
            raise self.error(
                f"{what} {tok.text!r} is {len(values)}-D but the spec is {self.ndim}-D",
                tok.pos,
            )
        return values

    def interpolation(
        self, words: list[_Tok], modes: tuple[str, ...], kind: str, head: _Tok
    ) -> tuple[str, bool]:
        """An interpolation mode (default nearest) and/or ``align`` (align_corners=True)."""
        mode, align = "nearest", False
        seen: set[str] = set()
        for tok in words:
            if tok.text in modes and "mode" not in seen:
                mode = tok.text
                seen.add("mode")
            elif tok.text == "align" and "align" not in seen:
                align = True
                seen.add("align")
            else:
                raise self.error(
                    f"unexpected {tok.text!r} for {kind} (expected one of {', '.join(modes)} "
                    "and/or align)",
                    tok.pos,
                )
        if align and mode.startswith("nearest"):
            raise self.error(f"align needs an interpolating mode, not {mode}", head.pos)
        return mode, align

    def options(
        self, words: list[_Tok], allowed: dict[str, str], kind: str
    ) -> dict[str, tuple[Any, _Tok]]:
        """Parse option words; ``allowed`` maps option names to their value form."""
        got: dict[str, tuple[Any, _Tok]] = {}
        expected = ", ".join(a for a in allowed if a != "centered")
        for tok in words:
            if tok.kind == "str":
                raise self.error(f"unexpected string {tok.text} in a {kind}", tok.pos)
            name, value = self._option(tok.text, allowed)
            if name is None:
                raise self.error(
                    f"unknown option {tok.text!r} for a {kind} (expected {expected})", tok.pos
                )
            key = "p" if name in _PADDING_WORDS else name
            if key in got:
                what = "the padding" if key == "p" else f"option {tok.text!r}"
                raise self.error(f"{what} is given twice", tok.pos)
            word = "centred" if name == "centered" else name
            got[key] = (value if key != "p" or name == "p" else word, tok)
        return got

    @staticmethod
    def _option(word: str, allowed: dict[str, str]) -> tuple[str | None, Any]:
        for name, form in allowed.items():
            if form == "flag":
                if word == name:
                    return name, True
                continue
            if not word.startswith(name):
                continue
            rest = word[len(name) :]
            if form == "ints" and _INTS.match(rest):
                return name, _ints(rest)
            if form == "pads" and _PADS.match(rest):
                return name, _pads(rest)
            if form == "int" and _DIGITS.match(rest):
                return name, int(rest)
            if form == "channels" and re.fullmatch(r"[0-9]+(?::[0-9]+)?", rest):
                a, _, b = rest.partition(":")
                return name, (int(a), int(b)) if b else (None, int(a))
        return None, None

    def layers(self, ast: _LayerAst, size: Ints | None) -> list[Layer]:
        """The layers of one layer item (two for a pool whose 'same' padding is asymmetric)."""
        words = tuple((t.text, t.value) for t in ast.words)
        key = (words, size if any(t == "same" for t, _ in words) else None)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        try:
            out = self._layer(ast, size)
        except SpecError:
            raise
        except AtrousError as exc:
            raise self.error(str(exc), ast.pos) from None
        layers = out if isinstance(out, list) else [out]
        self.cache[key] = layers
        return layers

    def tf_same(
        self, kernel: Ints, stride: Ints, dilation: Ints, size: Ints | None, tok: _Tok
    ) -> Pairs:
        """TensorFlow's 'same' padding (:func:`atrous.same_padding`) at this layer's input."""
        if all(v == 1 for v in stride):
            return tuple(same_padding(kernel, stride, dilation))
        if size is None:
            raise self.error(
                f"'same' with stride {_fmt_ints(stride)} follows TensorFlow's rule, which "
                f"depends on the input size, unknown here{self.unknown}: give the input size "
                "(input_size=, --input) or write 'centred' for the fixed padding d*(k-1) split "
                "left-floor/right-ceil",
                tok.pos,
            )
        return tuple(same_padding(kernel, stride, dilation, size))

    def _layer(self, ast: _LayerAst, size: Ints | None) -> Layer | list[Layer]:
        words = ast.words
        word = words[0].text
        if _INTS.match(word) or word == "conv":
            return self._conv(words, size)
        if word in ("tconv", "deconv", "convT"):
            return self._tconv(words)
        if word in ("maxpool", "avgpool"):
            return self._pool(words, size)
        if word in ("gpool", "apool"):
            return self._global_pool(words)
        if word == "resize":
            return self._resize(words)
        if word.startswith("up") and (word == "up" or _INTS.match(word[2:])):
            return self._upsample(words)
        if word == "pad":
            return self._pad(words)
        return self._named(words)

    def _conv(self, words: list[_Tok], size: Ints | None) -> Layer:
        """``3x3 d2 ...`` or ``conv 3x3 d2 ...``: a convolution."""
        head = words[0]
        if head.text == "conv":
            if len(words) < 2:
                raise self.error("conv needs a kernel size like 3x3", head.pos)
            words = words[1:]
        kernel = self.size(words[0], "kernel")
        opts = self.options(
            words[1:],
            {"s": "ints", "d": "ints", "p": "pads", "g": "int", "c": "channels",
             "same": "flag", "centred": "flag", "centered": "flag", "valid": "flag",
             "nobias": "flag"},
            "conv",
        )
        stride = self._axis_opt(opts, "s", 1)
        dilation = self._axis_opt(opts, "d", 1)
        padding: Any
        if "p" not in opts or opts["p"][0] == "centred":
            padding = default_padding(kernel, dilation)
        elif opts["p"][0] == "same":
            padding = self.tf_same(kernel, stride, dilation, size, opts["p"][1])
        elif opts["p"][0] == "valid":
            padding = ((0, 0),) * self.ndim
        else:
            padding = self.per_axis(opts["p"][0], opts["p"][1], "padding")
        cin, cout = opts["c"][0] if "c" in opts else (None, None)
        return Conv(
            kernel, stride, padding, dilation, opts["g"][0] if "g" in opts else 1,
            ndim=self.ndim, in_channels=cin, out_channels=cout, bias="nobias" not in opts,
        )

    def _tconv(self, words: list[_Tok]) -> Layer:
        """``tconv 4x4 s2 ...`` (or ``deconv``, ``convT``): a transposed convolution."""
        head = words[0]
        if len(words) < 2:
            raise self.error(f"{head.text} needs a kernel size like 4x4", head.pos)
        kernel = self.size(words[1], "kernel")
        opts = self.options(
            words[2:],
            {"s": "ints", "d": "ints", "op": "ints", "p": "ints", "g": "int",
             "c": "channels", "nobias": "flag"},
            "transposed conv",
        )
        cin, cout = opts["c"][0] if "c" in opts else (None, None)
        return ConvTranspose(
            kernel, self._axis_opt(opts, "s", 1), self._axis_opt(opts, "p", 0),
            self._axis_opt(opts, "d", 1), self._axis_opt(opts, "op", 0),
            opts["g"][0] if "g" in opts else 1, ndim=self.ndim, in_channels=cin,
            out_channels=cout, bias="nobias" not in opts,
        )

    def _pool(self, words: list[_Tok], size: Ints | None) -> Layer | list[Layer]:
        """``maxpool 3x3 s2 p1`` / ``avgpool 2x2``: a pool (after a Pad for TF's 'same')."""
        head = words[0]
        word, nd = head.text, self.ndim
        if len(words) < 2:
            raise self.error(f"{word} needs a kernel size like 2x2", head.pos)
        kernel = self.size(words[1], "kernel")
        allowed = {"s": "ints", "p": "ints", "same": "flag", "ceil": "flag"}
        if word == "maxpool":
            allowed["d"] = "ints"
        opts = self.options(words[2:], allowed, word)
        pmode: Literal["max", "avg"] = "max" if word == "maxpool" else "avg"
        stride = self._axis_opt(opts, "s", None)
        dilation = self._axis_opt(opts, "d", 1)
        if "p" in opts and opts["p"][0] == "same":
            if "ceil" in opts:
                raise self.error(
                    "'same' and 'ceil' do not combine: TensorFlow's 'same' sets the output "
                    "to ceil(input/stride) by itself", opts["ceil"][1].pos,
                )
            pairs = self.tf_same(kernel, stride or kernel, dilation, size, opts["p"][1])
            if all(lo == hi and lo <= k // 2 for (lo, hi), k in zip(pairs, kernel)):
                return Pool(pmode, kernel, stride, tuple(lo for lo, _ in pairs), dilation,
                            ndim=nd)
            # PyTorch pools pad symmetrically, at most half the kernel: pad first
            return [Pad(pairs, ndim=nd), Pool(pmode, kernel, stride, 0, dilation, ndim=nd)]
        return Pool(
            pmode, kernel, stride, self._axis_opt(opts, "p", 0), dilation, "ceil" in opts,
            ndim=nd,
        )

    def _global_pool(self, words: list[_Tok]) -> Layer:
        """``gpool [max]`` / ``apool 7x7 [max]``: global or adaptive pooling."""
        head = words[0]
        word = head.text
        mode = "avg"
        rest = words[1:]
        target: Ints | None = None
        if word == "apool":
            if not rest:
                raise self.error("apool needs an output size like 7x7", head.pos)
            target = self.size(rest[0], "output size")
            rest = rest[1:]
        for tok in rest:
            if tok.text in ("max", "avg") and tok is rest[0] and len(rest) == 1:
                mode = tok.text
            else:
                raise self.error(
                    f"unexpected {tok.text!r} after {word} (expected max or avg)", tok.pos
                )
        if target is None:
            return GlobalPool(mode)  # type: ignore[arg-type]
        return AdaptivePool(mode, target, ndim=self.ndim)  # type: ignore[arg-type]

    def _resize(self, words: list[_Tok]) -> Layer:
        """``resize 65x65 [mode] [align]``: interpolation to a fixed output size."""
        head = words[0]
        if len(words) < 2:
            raise self.error("resize needs an output size like 65x65", head.pos)
        size = self.size(words[1], "output size")
        rmode, ralign = self.interpolation(words[2:], RESIZE_MODES, "resize", head)
        return Resize(size, rmode, ralign, ndim=self.ndim)  # type: ignore[arg-type]

    def _upsample(self, words: list[_Tok]) -> Layer:
        """``up2`` / ``up 2x1 bilinear align``: upsampling by an integer scale."""
        head = words[0]
        word = head.text
        rest = words[1:]
        if word == "up":
            if not rest or not _INTS.match(rest[0].text):
                raise self.error("up needs a scale like up2 or up 2x2", head.pos)
            scale_tok, rest = rest[0], rest[1:]
            scale_text = scale_tok.text
        else:
            scale_tok, scale_text = head, word[2:]
        scale = self.per_axis(_ints(scale_text), scale_tok, "scale")
        mode, align = self.interpolation(rest, UPSAMPLE_MODES, "up", head)
        return Upsample(scale, mode, align, ndim=self.ndim)  # type: ignore[arg-type]

    def _pad(self, words: list[_Tok]) -> Layer:
        """``pad 1`` / ``pad 0:1x1``: explicit padding."""
        head = words[0]
        if len(words) != 2 or not _PADS.match(words[1].text):
            pos = words[1].pos if len(words) > 1 else head.pos
            raise self.error("pad takes one padding like 1, 0:1 or 1x2", pos)
        return Pad(self.per_axis(_pads(words[1].text), words[1], "padding"), ndim=self.ndim)

    def _named(self, words: list[_Tok]) -> Layer:
        """A one-word layer: ``relu``, ``id``, ``dense``, ``pw:NAME``, ``opaque:NAME``..."""
        head = words[0]
        word = head.text
        if len(words) > 1:
            raise self.error(f"unexpected {words[1].text!r} after {word!r}", words[1].pos)
        name = head.value or word.partition(":")[2]
        prefix = word.partition(":")[0] if ":" in word else word
        if ":" in word or head.value:
            if not name:
                raise self.error(f"{prefix}: needs a name after the colon", head.pos)
            if prefix == "pw":
                return Pointwise(name)
            if prefix == "dense":
                return Dense(name)
            if prefix == "opaque":
                return Opaque(name)
            raise self.error(
                f"unknown layer {word!r} (expected pw:NAME, dense:NAME or opaque:NAME)", head.pos
            )
        if word in ("id", "identity"):
            return Pointwise("identity")
        if word in POINTWISE_WORDS:
            return Pointwise(word)
        if word in ("dense", "fc", "linear"):
            return Dense("linear")
        raise self.error(
            f"unknown layer {word!r} (expected a kernel like 3x3, conv, tconv, maxpool, "
            "avgpool, gpool, apool, up, pad, a pointwise op like relu, dense, res(...), par(...))",
            head.pos,
        )

    def _axis_opt(self, opts: dict[str, tuple[Any, _Tok]], key: str, default: Any) -> Any:
        if key not in opts:
            return default if default is None else (default,) * self.ndim
        value, tok = opts[key]
        minimum = 0 if key in ("p", "op") else 1
        if any(v < minimum for v in value):
            what = {"s": "stride", "d": "dilation"}[key]
            raise self.error(f"{what} must be >= {minimum}, got {tok.text!r}", tok.pos)
        return self.per_axis(value, tok, {"s": "stride", "d": "dilation", "p": "padding",
                                          "op": "output padding"}[key])

    def build(self, items: list[Any], size: Ints | None) -> tuple[Graph, Ints | None]:
        """The graph of ``items`` and its output size (None where unknown) for input ``size``."""
        parts: list[Layer | Graph] = []
        for item in items:
            if isinstance(item, _LayerAst):
                for layer in self.layers(item, size):
                    parts.append(layer)
                    size = self.next_size(layer, size, item.words[0].text)
            else:
                branches: list[Any] = []
                for b in item.branches:
                    branches.append(self.build(b, size)[0] if b else [])
                try:
                    block = (
                        _residual(branches, self.ndim) if item.residual
                        else parallel(branches, merge=item.mode, ndim=self.ndim)
                    )
                except AtrousError as exc:
                    raise self.error(str(exc), item.pos) from None
                parts.append(block)
                if size is not None:
                    try:
                        size = block.shapes(size)[block.output]
                    except AtrousError as exc:
                        size, self.unknown = None, f" (the block before it fails: {exc})"
        return chain(*parts, ndim=self.ndim), size

    def next_size(self, layer: Layer, size: Ints | None, head: str) -> Ints | None:
        if size is None:
            return None
        try:
            return tuple(layer.output_size(size))
        except AtrousError as exc:
            self.unknown = f" (the size is unknown after {head!r}: {exc})"
            return None


def _residual(branches: list[Any], ndim: int) -> Graph:
    from .graph import residual

    body, shortcut = branches
    return residual(body, shortcut if isinstance(shortcut, Graph) else None, ndim=ndim)


_SIZED = frozenset({"conv", "tconv", "deconv", "convT", "maxpool", "avgpool", "apool"})


def _axes_hints(
    items: list[Any], out: list[tuple[int, int, str]], seen: set[str] | None = None
) -> None:
    """The first size token of each number of axes, in spec order (a repeat adds nothing)."""
    seen = set() if seen is None else seen  # size texts (and ids of repeated items) already read
    axes = {n for n, _, _ in out}
    for item in items:
        if type(item) is _LayerAst:
            tok = item.words[0]
            text = tok.text
            if text in seen:
                continue
            if not _INTS.match(text):
                words = item.words
                if text not in _SIZED or len(words) < 2 or not _INTS.match(words[1].text):
                    continue
                tok = words[1]
                text = tok.text
                if text in seen:
                    continue
            seen.add(text)
            n = text.count("x") + 1
            if n not in axes:
                axes.add(n)
                out.append((n, tok.pos, text))
        else:
            key = f"#{id(item)}"
            if key not in seen:
                seen.add(key)
                for b in item.branches:
                    _axes_hints(b, out, seen)
                axes = {n for n, _, _ in out}


def parse(text: str, ndim: int | None = None, input_size: Any = None) -> Graph:
    """Parse a layer spec into a :class:`~atrous.graph.Graph` (grammar in the module docstring).

    Args:
        text: the spec, e.g. ``"3x3 d1, 3x3 d2, 3x3 d5"``.
        ndim: number of spatial axes when the spec has no kernel to tell (default 2); when given
            it must agree with the spec's kernels.
        input_size: the spatial input size (an int, one size per axis, or a full
            ``(N, C, *spatial)`` shape). Needed only to resolve ``same`` (TensorFlow's padding)
            on layers with a stride > 1; elsewhere it is not used.

    Returns:
        The graph; node names follow the builders (``conv0``, ``res1.conv0``, ``res1.add``...).

    Raises:
        SpecError: with the position of the offending token.

    >>> g = parse("7x7 s2, maxpool 3x3 s2 p1, res(3x3, 3x3)")
    >>> [n.name for n in g.layer_nodes()]
    ['conv0', 'pool0', 'res2.conv0', 'res2.conv1', 'res2.add']
    >>> parse("3 d2, 3 d4").ndim
    1
    >>> parse("7x7 s2 same", input_size=(224, 224))["conv0"].layer.padding  # TensorFlow's
    ((2, 3), (2, 3))
    >>> parse("7x7 s2 centred")["conv0"].layer.padding
    ((3, 3), (3, 3))
    """
    if not isinstance(text, str):
        raise AtrousError(f"a spec must be a string, got {type(text).__name__}")
    if ndim is not None:
        ndim = as_int(ndim, "ndim", 1)
        if ndim > 3:
            raise AtrousError(f"ndim must be 1, 2 or 3, got {ndim}")
    if len(text) > MAX_CHARS:
        raise SpecError(
            f"the spec is {len(text)} characters long; a spec holds at most {MAX_CHARS}",
            text, MAX_CHARS,
        )
    header = re.match(r"\s*([123])d\s*:", text)
    header_nd = int(header.group(1)) if header else None
    body_start = header.end() if header else 0
    parser = _Parser(text, body_start)
    if parser.peek().kind == "end":
        where = f"after the header {text[:body_start].strip()!r}" if header else ""
        raise SpecError(
            f"the spec is empty{' ' + where if where else ''}: expected layers like "
            "'3x3 d1, 3x3 d2'", text, body_start,
        )
    items = parser.seq("end")
    hints: list[tuple[int, int, str]] = []
    _axes_hints(items, hints)
    nd = header_nd if header_nd is not None else ndim
    source = f"{nd}d:" if header_nd is not None else (f"ndim={nd}" if nd is not None else "")
    for n, pos, tok in hints:
        if n > 3:
            raise SpecError(f"{tok!r} has {n} axes; atrous handles 1-D, 2-D and 3-D", text, pos)
        if nd is None:
            nd, source = n, repr(tok)
        elif n != nd:
            raise SpecError(
                f"{tok!r} is {n}-D but the spec is {nd}-D (from {source})", text, pos
            )
    if ndim is not None and header_nd is not None and ndim != header_nd:
        raise SpecError(f"ndim={ndim} disagrees with the header {header_nd}d:", text, 0)
    builder = _Builder(text, nd or 2, input_size)
    return builder.build(items, builder.input_size)[0]


# -- Graph -> text ----------------------------------------------------------------------------
def _fmt_ints(values: Sequence[int]) -> str:
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def _fmt_pads(pads: Pairs) -> str:
    parts = [str(lo) if lo == hi else f"{lo}:{hi}" for lo, hi in pads]
    return parts[0] if len(set(pads)) == 1 else "x".join(parts)


def _fmt_name(prefix: str, name: str) -> str:
    return f"{prefix}:{name}" if _NAME.match(name) else f"{prefix}:{json.dumps(name)}"


def _channels(layer: Conv | ConvTranspose) -> str:
    if layer.out_channels is None:
        if layer.in_channels is not None:
            raise AtrousError(
                "the spec language writes in_channels only with out_channels "
                f"(got in_channels={layer.in_channels})"
            )
        return ""
    if layer.in_channels is None:
        return f" c{layer.out_channels}"
    return f" c{layer.in_channels}:{layer.out_channels}"


def layer_spec(layer: Layer) -> str:
    """The spec text of one layer.

    >>> layer_spec(Conv(3, stride=2, dilation=2, padding=0, ndim=2))
    '3x3 s2 d2 valid'
    """
    if isinstance(layer, Conv):
        out = "x".join(map(str, layer.kernel))
        if any(s != 1 for s in layer.stride):
            out += f" s{_fmt_ints(layer.stride)}"
        if any(d != 1 for d in layer.dilation):
            out += f" d{_fmt_ints(layer.dilation)}"
        if layer.padding != default_padding(layer.kernel, layer.dilation):
            zero = all(p == (0, 0) for p in layer.padding)
            out += " valid" if zero else f" p{_fmt_pads(layer.padding)}"
        if layer.groups != 1:
            out += f" g{layer.groups}"
        out += _channels(layer)
        return out + ("" if layer.bias else " nobias")
    if isinstance(layer, ConvTranspose):
        out = "tconv " + "x".join(map(str, layer.kernel))
        for key, values, default in (
            ("s", layer.stride, 1), ("p", layer.padding, 0), ("op", layer.output_padding, 0),
            ("d", layer.dilation, 1),
        ):
            if any(v != default for v in values):
                out += f" {key}{_fmt_ints(values)}"
        if layer.groups != 1:
            out += f" g{layer.groups}"
        out += _channels(layer)
        return out + ("" if layer.bias else " nobias")
    if isinstance(layer, Pool):
        out = f"{layer.mode}pool " + "x".join(map(str, layer.kernel))
        if layer.stride != layer.kernel:
            out += f" s{_fmt_ints(layer.stride)}"
        if any(layer.padding):
            out += f" p{_fmt_ints(layer.padding)}"
        if any(d != 1 for d in layer.dilation):
            out += f" d{_fmt_ints(layer.dilation)}"
        return out + (" ceil" if layer.ceil_mode else "")
    if isinstance(layer, GlobalPool):
        return "gpool" + (" max" if layer.mode == "max" else "")
    if isinstance(layer, AdaptivePool):
        return "apool " + "x".join(map(str, layer.target)) + (
            " max" if layer.mode == "max" else ""
        )
    if isinstance(layer, Upsample):
        out = f"up{_fmt_ints(layer.scale)}"
        if layer.mode != "nearest":
            out += f" {layer.mode}"
        return out + (" align" if layer.align_corners else "")
    if isinstance(layer, Resize):
        if layer.size is None:
            raise AtrousError(f"{layer!r} has no spec form (a resize by a scale factor)")
        out = "resize " + "x".join(map(str, layer.size))
        if layer.mode != "nearest":
            out += f" {layer.mode}"
        return out + (" align" if layer.align_corners else "")
    if isinstance(layer, Pad):
        return f"pad {_fmt_pads(layer.padding)}"
    if isinstance(layer, Pointwise):
        if layer.op == "identity":
            return "id"
        return layer.op if layer.op in POINTWISE_WORDS else _fmt_name("pw", layer.op)
    if isinstance(layer, Dense):
        return "dense" if layer.op == "linear" else _fmt_name("dense", layer.op)
    if isinstance(layer, Opaque):
        return _fmt_name("opaque", layer.op)
    raise AtrousError(f"the spec language cannot write a {type(layer).__name__} layer")


class _Decompiler:
    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.order = {n.name: i for i, n in enumerate(graph.topological())}
        self.used: set[str] = set()

    def claim(self, name: str) -> Node:
        if name in self.used:
            raise AtrousError(
                f"node {name!r} feeds several places outside a block: the graph is not a "
                "series-parallel network the spec language can write"
            )
        self.used.add(name)
        return self.g[name]

    def seq(self, start: str, end: str) -> list[str]:
        """Spec items of the path from ``start`` (exclusive) to ``end`` (inclusive)."""
        items: list[str] = []
        name = end
        while name != start:
            if name == "input":
                raise AtrousError(
                    f"a branch ending at {end!r} does not start at its block's fork {start!r}: "
                    "the graph is not series-parallel"
                )
            node = self.claim(name)
            if isinstance(node.layer, Merge):
                fork = self.fork(node)
                branches = [self.seq(fork, i) for i in node.inputs]
                items.append(self.block(node.layer, branches))
                name = fork
            else:
                items.append(layer_spec(node.layer))
                name = node.inputs[0]
        return items[::-1]

    def fork(self, node: Node) -> str:
        common: set[str] | None = None
        for i in node.inputs:
            anc = self.g.ancestors(i) | {i}
            common = anc if common is None else common & anc
        assert common  # "input" is an ancestor of every node
        return max(common, key=self.order.__getitem__)

    @staticmethod
    def block(merge: Merge, branches: list[list[str]]) -> str:
        texts = [", ".join(b) if b else "skip" for b in branches]
        if merge.mode == "add" and len(branches) == 2 and branches[0] and not branches[1]:
            return f"res({texts[0]})"
        if merge.mode == "add" and len(branches) == 2 and branches[0] and branches[1]:
            return f"res({texts[0]} | {texts[1]})"
        word = {"add": "add", "concat": "par", "mul": "mul"}[merge.mode]
        return f"{word}({' | '.join(texts)})"


def to_spec(graph: Graph | str) -> str:
    """Write a graph in the spec language; ``parse(to_spec(g))`` rebuilds the same graph.

    Only series-parallel graphs with one output can be written (every graph the spec language
    and the builders make); node names and metadata are not part of the text.

    >>> from atrous import stack
    >>> to_spec(stack([1, 2, 5]))
    '3x3, 3x3 d2, 3x3 d5'
    >>> to_spec(parse("1d: relu"))
    '1d: relu'
    """
    if isinstance(graph, str):
        graph = parse(graph)
    if not isinstance(graph, Graph):
        raise AtrousError(
            f"to_spec needs a Graph or a spec string, got {type(graph).__name__}"
        )
    if len(graph) == 0:
        raise AtrousError("an empty graph has no spec text")
    dec = _Decompiler(graph)
    text = ", ".join(dec.seq("input", graph.output))
    missing = [n.name for n in graph.layer_nodes() if n.name not in dec.used]
    if missing:
        raise AtrousError(
            f"nodes {missing} do not lead to the output {graph.output!r}; the spec language "
            "writes only what the output depends on"
        )
    needs_header = graph.ndim != 2
    try:
        needs_header = parse(text).ndim != graph.ndim
    except SpecError:
        needs_header = True
    return f"{graph.ndim}d: {text}" if needs_header else text


def _canonical_ids(graph: Graph, table: dict[Any, int]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for node in graph.topological():
        key = (node.layer, tuple(ids[i] for i in node.inputs))
        ids[node.name] = table.setdefault(key, len(table))
    return ids


def structurally_equal(a: Graph, b: Graph) -> bool:
    """True when two graphs have the same layers wired the same way (names and meta aside).

    >>> structurally_equal(parse("3x3 d2, 3x3"), parse("conv 3x3 p2 d2, 3x3 same"))
    True
    >>> structurally_equal(parse("3x3 d2, 3x3"), parse("3x3, 3x3 d2"))
    False
    """
    if a.ndim != b.ndim or len(a) != len(b):
        return False
    table: dict[Any, int] = {}
    ia, ib = _canonical_ids(a, table), _canonical_ids(b, table)
    return sorted(ia.values()) == sorted(ib.values()) and [ia[o] for o in a.outputs] == [
        ib[o] for o in b.outputs
    ]
