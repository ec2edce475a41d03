"""Attack suite, round 4: streaming, CLI start-up, design entry, typed renderers, limb maps.

Each test is a defect found by attack (it failed before its fix) or a check that an attack
found nothing: the truth is always the real computation (``model(x)`` of the real model,
:func:`atrous.coverage`, brute-force path counting, the file read back after the process).
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from test_stream_tcn import Chomp1d as _Chomp  # locuslab/TCN's chomp

from atrous import stream
from atrous.errors import AtrousError


def _module(forward, **children):  # type: ignore[no-untyped-def]
    """An ``nn.Module`` with ``forward`` and the given children (torch.fx traces it)."""
    cls = type("Attacked", (nn.Module,), {"forward": forward})
    mod = cls()
    for name, child in children.items():
        setattr(mod, name, child)
    return mod.eval()


def _streamed(model: nn.Module, x: torch.Tensor, chunk: int, s=None) -> torch.Tensor:  # type: ignore[no-untyped-def]
    s = stream(model) if s is None else s
    s.reset()
    return torch.cat([s.push(x[..., i:i + chunk]) for i in range(0, x.shape[-1], chunk)], -1)


# -- stream -------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", [nn.Identity(), _module(lambda self, x: x)],
                         ids=["nn.Identity", "returns-input"])
def test_stream_of_a_model_returning_its_input_emits_it(model: nn.Module) -> None:
    """Defect: the input node was never an emitted output, so every push returned 0 samples."""
    x = torch.randn(1, 2, 13)
    for chunk in (1, 4, 13):
        assert torch.equal(_streamed(model, x, chunk), model(x))


def test_stream_of_a_constant_output_is_refused_in_one_line() -> None:
    """Defect: a raw KeyError ('_tensor_constant0')."""
    model = _module(lambda self, x: torch.zeros(1, 2, 5))
    with pytest.raises(AtrousError, match="does not depend on the model's input"):
        stream(model)


def _wn_tcn(kind: str) -> nn.Module:
    conv = nn.Conv1d(2, 2, 3, padding=4, dilation=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "weight_norm":
            conv = nn.utils.weight_norm(conv)
        elif kind == "parametrizations":
            conv = nn.utils.parametrizations.weight_norm(conv)
    return nn.Sequential(conv, _Chomp(4), nn.ReLU()).eval()


@pytest.mark.parametrize("kind", ["plain", "weight_norm", "parametrizations"])
def test_stream_reads_weights_changed_after_stream(kind: str) -> None:
    """Defect: the weight of a weight-normed conv (Bai et al.'s TCN uses weight_norm) was read
    once at stream(): a state dict loaded afterwards was silently ignored."""
    torch.manual_seed(0)
    model = _wn_tcn(kind)
    s = stream(model)
    model.load_state_dict(_wn_tcn(kind).state_dict())
    x = torch.randn(1, 2, 17)
    y = torch.cat([s.push(x[..., :5]), s.push(x[..., 5:])], -1)
    assert torch.allclose(y, model(x), atol=1e-6)
    model.double()  # a dtype change after stream() is read too
    s.reset()
    assert torch.allclose(s.push(x.double()), model(x.double()), atol=1e-12)


@pytest.mark.parametrize("pre", [True, False])
def test_stream_refuses_a_conv_with_a_forward_hook(pre: bool) -> None:
    """Defect: stream ran the conv's weights itself and skipped the hook: silently wrong."""
    conv = nn.Conv1d(2, 2, 3, padding=2)
    if pre:
        conv.register_forward_pre_hook(lambda mod, inp: (inp[0] * 2,))
    else:
        conv.register_forward_hook(lambda mod, inp, out: out * 2)
    with pytest.raises(AtrousError, match=r"node '_0'.*forward hook"):
        stream(nn.Sequential(conv, _Chomp(2)).eval())


def test_stream_refuses_functional_dropout_in_training_mode() -> None:
    """Defect: ``F.dropout(x, 0.5)`` (training=True by default) was streamed as pointwise,
    while an ``nn.Dropout`` in training mode is refused."""
    with pytest.raises(AtrousError, match=r"node 'dropout'.*training=True"):
        stream(_module(lambda self, x: F.dropout(x, 0.5)))
    model = _module(lambda self, x: F.dropout(x, 0.5, training=False) * 2)
    x = torch.randn(1, 2, 9)
    assert torch.equal(_streamed(model, x, 2), model(x))


def test_stream_refuses_a_merge_of_paths_of_different_lengths() -> None:
    """Defect: a residual of a block chomping more than its padding (offline: a shape error)
    was accepted and streamed outputs the model never computes."""
    model = nn.Sequential(
        _module(lambda self, x: self.c(x)[..., :-3] + x, c=nn.Conv1d(2, 2, 3, padding=2)))
    x = torch.randn(1, 2, 11)
    with pytest.raises(RuntimeError):
        model(x)
    with pytest.raises(AtrousError, match="merges paths of different lengths"):
        stream(model)


@pytest.mark.parametrize("chunks", [pytest.param((1, 2), marks=pytest.mark.slow), (5, 64)])
@pytest.mark.parametrize("name", ["lag-merge", "strided-tcn", "chomp-long-strided", "gated",
                                  "valid-plus-slice", "delay", "batchnorm"])
def test_stream_equals_the_offline_output(name: str, chunks: tuple[int, ...]) -> None:
    """What attack found exact: merges of different lags, strided chomps, pure delays."""
    torch.manual_seed(1)
    models = {
        "lag-merge": lambda: _module(lambda self, x: self.c(x)[..., :-4] + x[..., :-2],
                                     c=nn.Conv1d(2, 2, 3, padding=2)),
        "strided-tcn": lambda: nn.Sequential(nn.Conv1d(2, 2, 4, stride=2, padding=3),
                                             _Chomp(3), nn.ReLU(),
                                             nn.Conv1d(2, 2, 3, stride=3, padding=2), _Chomp(2)),
        "chomp-long-strided": lambda: nn.Sequential(nn.Conv1d(2, 2, 4, stride=2, padding=3),
                                                    _Chomp(5)),
        "gated": lambda: _module(
            lambda self, x: torch.tanh(self.a(x)[..., :-2]) * torch.sigmoid(self.b(x)[..., :-2])
            + x, a=nn.Conv1d(2, 2, 3, padding=2), b=nn.Conv1d(2, 2, 3, padding=2)),
        "valid-plus-slice": lambda: _module(lambda self, x: self.c(x) + x[..., 2:],
                                            c=nn.Conv1d(2, 2, 3)),
        "delay": lambda: _module(lambda self, x: F.pad(x, (3, 0))[..., :-3]),
        "batchnorm": lambda: nn.Sequential(nn.Conv1d(2, 2, 3, padding=2), _Chomp(2),
                                           nn.BatchNorm1d(2)),
    }
    model = models[name]().eval().double()
    x = torch.randn(2, 2, 31, dtype=torch.float64)
    s = stream(model)
    for chunk in chunks:
        assert torch.allclose(_streamed(model, x, chunk, s), model(x), atol=1e-10)


@pytest.mark.parametrize("model,match", [
    (nn.Sequential(nn.Conv1d(2, 2, 3, padding=2), nn.BatchNorm1d(2)).eval(), "not causal"),
    (nn.Conv1d(2, 2, 4, padding="same"), "not causal"),
    (_module(lambda self, x: F.pad(x, (0, 2))[..., :-1]), "not causal"),
    (_module(lambda self, x: x.cumsum(-1)), "node 'cumsum'"),
    (_module(lambda self, x: x.flip(-1)), "node 'flip'"),
    (_module(lambda self, x: torch.cat([x, x], -1)), "node 'cat'"),
    (_module(lambda self, x: x.chunk(2, -1)[0]), "node 'chunk'"),
    (_module(lambda self, x: F.softmax(x, -1)), "node 'softmax'"),
    (_module(lambda self, x: torch.roll(x, 1, -1)), "node 'roll'"),
    (_module(lambda self, x: F.pad(x, (2, 0), mode="replicate")), "node 'pad'"),
], ids=["bn-after-pad-both", "same", "chomp-short", "cumsum", "flip", "cat-time", "chunk-time",
        "softmax-time", "roll", "replicate"])
def test_stream_refuses_what_is_not_causal_or_not_chunkable(model: nn.Module, match: str) -> None:
    with pytest.raises(AtrousError, match=match) as info:
        stream(model)
    assert "\n" not in str(info.value)


# -- CLI start-up -------------------------------------------------------------------------------

def _atrous(*words: str, close_stdout: bool = False, **kw):  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "atrous", *words], capture_output=not
                          close_stdout, text=True, env=env, timeout=60,
                          preexec_fn=(lambda: os.close(1)) if close_stdout else None, **kw)


def test_cli_with_stdout_closed_runs_every_short_command_as_shape_does() -> None:
    """Defect: ``atrous analyze SPEC >&-`` died with a traceback (AttributeError: 'NoneType'
    object has no attribute 'isatty') where ``atrous shape ... >&-`` exits 0 silently."""
    import subprocess

    for words in (("analyze", "3x3 d2"),):
        done = _atrous(*words, close_stdout=True, stderr=subprocess.PIPE)
        err = done.stderr
        assert "Traceback" not in err
        assert (done.returncode, err == "") == ((2, False) if "3x3 q" in words else (0, True))


@pytest.mark.slow
def test_cli_short_command_output_and_files_are_complete(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The quick exit (os._exit after flushing) loses nothing: a large --json on a pipe, the
    exit status of an error, a user's OPENBLAS_NUM_THREADS (checked in-process below)."""
    import json

    done = _atrous("analyze", "--json", "(3x3 d2)*12", "--input", "200x200")
    assert done.returncode == 0 and done.stderr == ""
    record = json.loads(done.stdout)
    assert len(done.stdout) > 50_000 and record["target"] == "(3x3 d2)*12"
    bad = _atrous("analyze", "3x3 q")
    assert bad.returncode == 2 and bad.stdout == "" and len(bad.stderr.splitlines()) == 3


def test_cli_keeps_a_users_openblas_setting(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    from atrous.cli import _main

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "7")
    assert _main(["shape", "64", "-k", "3"], own_process=True) == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "7"


# -- design entry -------------------------------------------------------------------------------

def test_design_mallopt_is_guarded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Defect: ``import ctypes`` was outside the guard (a Python without ctypes crashed), and
    any libc with a ``mallopt`` symbol was called with glibc's parameter numbers (musl)."""
    import ctypes
    import sys

    from atrous.cli import design as cli_design

    calls = []

    class Musl:
        def mallopt(self, *a: int) -> int:
            calls.append(a)
            return 0

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Musl())
    cli_design._keep_freed_memory()
    assert calls == []
    monkeypatch.setitem(sys.modules, "ctypes", None)  # import ctypes raises ImportError
    cli_design._keep_freed_memory()


def test_design_progress_with_stderr_closed() -> None:
    """Defect: with stderr closed (``2>&-``) a search longer than 5 s died in Progress."""
    from atrous.cli.design import Progress

    p = Progress()
    p.stream = None
    p.last = p.start - 60
    p(0.5)
    p.close()


@pytest.mark.parametrize("value,ok", [
    ("np.int64(5)", True), ("np.float32(2.0)", True), ("10**400", True),
    ("True", False), ("'1'", False), ("float('nan')", False), ("-0.0", False)])
def test_design_time_limit_values(value: str, ok: bool) -> None:
    """Defect: numpy integers were refused and ``10**400`` raised a raw OverflowError."""
    import numpy as np

    import atrous

    limit = eval(value, {"np": np})  # the parameter's own literal
    if ok:
        assert atrous.design(kernel=3, layers=4, time_limit=limit)[0].rates == (1, 3, 9, 27)
    else:
        with pytest.raises(AtrousError, match="time_limit must be a positive number"):
            atrous.design(kernel=3, layers=4, time_limit=limit)


def test_design_progress_must_be_callable() -> None:
    """Defect: ``progress=5`` was accepted and failed only seconds into a long search."""
    import atrous

    with pytest.raises(AtrousError, match="progress must be a callable"):
        atrous.design(kernel=3, layers=4, progress=5)
    with pytest.raises(AtrousError, match="progress must be a callable"):
        atrous.pareto(kernel=3, max_rate=8, max_layers=3, progress="x")


# -- typed renderers ----------------------------------------------------------------------------

def _json_record(spec: str) -> dict:  # type: ignore[type-arg]
    """What ``atrous analyze --json SPEC`` prints, loaded back."""
    import json

    import atrous

    return json.loads(json.dumps(atrous.analyze(spec).to_dict()))


@pytest.fixture(scope="module")
def _figures():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    from atrous.render import figures

    yield figures
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("spec", [pytest.param("1d: 3 d1, 3 d2", marks=pytest.mark.slow),
                                  "3x3 d1, 3x3 d2",
                                  pytest.param("3d: 3x3x3 d2, 3x3x3", marks=pytest.mark.slow)])
def test_a_report_record_round_trips_into_every_figure(_figures, spec: str) -> None:  # type: ignore[no-untyped-def]
    """Defect: a report's record (``atrous analyze --json``, ``Report.to_dict()``) was refused
    by coverage_figure ("has no counts": they are under 'coverage'), gridding_strip and
    compare_figure ("not computed"), though records are documented inputs."""
    import numpy as np

    import atrous

    record = _json_record(spec)
    drawn = _figures.coverage_figure(record)
    truth = atrous.analyze(spec).coverage.counts
    assert drawn.axes[0].get_title() == _figures.coverage_figure(truth).axes[0].get_title()
    assert len(_figures.gridding_strip(record).axes) >= 1
    both = _figures.compare_figure([record, record["coverage"]])
    assert both.axes[0].get_title().splitlines()[0] == spec
    assert np.array_equal(np.asarray(record["coverage"]["counts"], dtype=object), truth)


@pytest.mark.parametrize("counts,match", [
    ([[1, 2], [3]], "not a rectangular array"),
    ([["a", "b"]], "must be numbers"),
    ([[float("nan"), 1.0]], "must be finite"),
    ([[-1, 1]], r"path counts \(>= 0\)"),
    ([[1.5, True]], None),  # floats are drawn (no refusal)
])
def test_coverage_figure_refuses_counts_that_are_not_counts(_figures, counts, match) -> None:  # type: ignore[no-untyped-def]
    """Defect: ragged lists, strings and NaN escaped as raw ValueError/UFuncTypeError, and a
    negative "count" was drawn."""
    if match is None:
        _figures.coverage_figure(counts)
        return
    for given in (counts, {"counts": counts}):
        with pytest.raises(AtrousError, match=match):
            _figures.coverage_figure(given)


def test_record_fields_of_the_wrong_type_are_refused(_figures) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AtrousError, match="offset, unit, holes and fraction must be numbers"):
        _figures.coverage_figure({"counts": [[1]], "offset": "ab"})


def test_gridding_strip_refuses_rows_that_are_not_gridding_records(_figures) -> None:  # type: ignore[no-untyped-def]
    """Defect: ``gridding_strip([{"x": 1}])`` drew a bar named '?' at 0%: silently junk."""
    with pytest.raises(AtrousError, match="target is a list of dict"):
        _figures.gridding_strip([{"x": 1}])


@pytest.mark.parametrize("bad,match", [(None, "got NoneType"), ([{}], "got list"),
                                       ({"a": 1}, "no 'status'")])
def test_report_html_refuses_what_is_not_a_report(bad, match) -> None:  # type: ignore[no-untyped-def]
    """Defect: ``report_html(None)`` / a list escaped as AttributeError; a dict without any
    report field was rendered as a complete report."""
    from atrous.render.html import report_html

    with pytest.raises(AtrousError, match=match):
        report_html(bad, figures=False)


# -- output coverage maps in int64 limbs --------------------------------------------------------

def _limb_and_reference(g, size):  # type: ignore[no-untyped-def]
    from atrous._coverage import coverage
    from atrous._limb_maps import output_coverage
    from atrous.rf import receptive_fields

    out = g.outputs[0]
    return (output_coverage(g, size, out, 10**7, receptive_fields(g, size)),
            coverage(g, input_size=size, node=out))


def _same_map(got, ref) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    assert got.counts.dtype == ref.counts.dtype and got.offset == ref.offset
    assert np.array_equal(got.counts, ref.counts)
    for key in ("max_count", "min_count", "total_paths", "covered", "holes", "rf_size"):
        assert getattr(got, key) == getattr(ref, key), key
    assert got.to_dict() == ref.to_dict()


def test_limb_map_of_a_deep_residual_stack_equals_a_brute_force_path_count() -> None:
    """70 residual blocks of a 3-tap conv on 50 samples: counts past 2**100, counted here by
    walking every path back one layer at a time in Python integers."""
    from atrous import Conv, chain, residual
    from atrous._limb_maps import LimbCoverage

    n, depth = 50, 70
    g = chain(*[residual([Conv(3, ndim=1, padding=1)]) for _ in range(depth)])
    got, ref = _limb_and_reference(g, (n,))
    assert isinstance(got, LimbCoverage)
    paths = [0] * n
    paths[got.unit[0]] = 1
    for _ in range(depth):  # output j of a block reads j (identity) and j-1..j+1 (the conv)
        paths = [p + sum(paths[j] for j in (i - 1, i, i + 1) if 0 <= j < n)
                 for i, p in enumerate(paths)]
    first = next(i for i, p in enumerate(paths) if p)
    last = max(i for i, p in enumerate(paths) if p)
    assert got.offset == (first,)
    assert got.counts.tolist() == paths[first:last + 1]
    assert got.max_count.bit_length() > 100
    _same_map(got, ref)


def test_limb_maps_across_the_int64_boundary() -> None:
    """Residual stacks of depths 1..44 (counts from 3 to past 2**63): the limb map has the
    engine's dtype (object exactly when the engine switches) and its counts."""
    from atrous import Conv, chain, residual

    for depth in (1, 2, 30, 31, 32, 33, 34, 44):  # the engine switches to Python ints at 33
        g = chain(*[residual([Conv(3, ndim=1, padding=1)]) for _ in range(depth)])
        _same_map(*_limb_and_reference(g, (40,)))


@pytest.mark.parametrize("name", ["strided-upsample", "transposed", "bilinear", "gated-global",
                                  "3-D"])
def test_limb_maps_of_merging_graphs(name: str) -> None:
    import copy
    import dataclasses
    import pickle

    from atrous import Conv, GlobalPool, Upsample, chain, parallel, residual
    from atrous.layers import ConvTranspose

    def c(k: int, **kw):  # type: ignore[no-untyped-def]
        return Conv(k, ndim=2, **kw)

    graphs = {
        "strided-upsample": lambda: (chain(c(3, stride=2, padding=1), residual(
            [c(3, padding=1), c(3, padding=1)]), parallel([[c(1)], [c(3, stride=2, padding=1),
                                                                    Upsample(2, ndim=2)]])),
            (36, 36)),
        "transposed": lambda: (chain(c(3, stride=2, padding=1), parallel(
            [[c(1)], [c(3, stride=2, padding=1),
                      ConvTranspose(4, stride=2, padding=1, ndim=2)]])), (32, 32)),
        "bilinear": lambda: (chain(c(3, stride=2, padding=1), parallel(
            [[c(1)], [Upsample(2, ndim=2, mode="bilinear"), c(3, stride=2, padding=1)]])),
            (20, 20)),
        "gated-global": lambda: (chain(c(3, stride=2, padding=1), *[residual(
            [c(1), c(3, padding=1), parallel([[], [GlobalPool(), c(1)]], merge="mul"), c(1)])
            for _ in range(3)], GlobalPool()), (24, 24)),
        "3-D": lambda: (chain(*[residual([Conv(3, ndim=3, padding=1)]) for _ in range(3)]),
                        (8, 8, 8)),
    }
    g, size = graphs[name]()
    got, ref = _limb_and_reference(g, size)
    _same_map(got, ref)
    fresh, _ = _limb_and_reference(g, size)  # pickled before its counts are read
    for twin in (pickle.loads(pickle.dumps(fresh)), copy.deepcopy(got),
                 dataclasses.replace(got, node=got.node)):
        _same_map(twin, ref)


@pytest.mark.parametrize("channels", ["2", 0, 2.5])
def test_stream_channels_is_checked_by_its_own_name(channels) -> None:  # type: ignore[no-untyped-def]
    """Defect: ``stream(net, channels="2")`` was refused as "every input_size entry must be an
    integer", naming a parameter the caller never passed."""
    with pytest.raises(AtrousError, match="channels"):
        stream(nn.Conv1d(2, 2, 1).eval(), channels=channels)


class _InplaceAfterReader(nn.Module):
    """``y`` read by a valid conv, then changed in place: offline the conv saw it before."""

    def __init__(self, functional: bool) -> None:
        super().__init__()
        self.a, self.b = nn.Conv1d(2, 2, 3), nn.Conv1d(2, 2, 3)
        self.functional, self.relu = functional, nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(F.pad(x, (2, 0)))
        w = self.b(y)
        z = F.relu(y, inplace=True) if self.functional else self.relu(y)
        return w + z[..., 2:]


@pytest.mark.parametrize("functional", [True, False])
def test_stream_refuses_an_inplace_op_on_a_node_read_elsewhere(functional: bool) -> None:
    """Defect: silently wrong. The in-place ReLU changed the frames of ``y`` stream keeps for
    the conv that reads it, so later pushes differed from ``model(x)``."""
    torch.manual_seed(0)
    model = _InplaceAfterReader(functional).eval()
    with pytest.raises(AtrousError, match=r"node 'relu.*in place while other nodes read it"):
        stream(model)


def test_stream_runs_an_inplace_relu_that_nothing_else_reads() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 2, 3, padding=2), _Chomp(2), nn.ReLU(inplace=True),
                          nn.Conv1d(2, 2, 2, padding=1), _Chomp(1)).eval().double()
    x = torch.randn(1, 2, 23, dtype=torch.float64)
    assert torch.allclose(_streamed(model, x, 4), model(x.clone()), atol=1e-12)
