"""Streaming inference for causal 1-D stacks: push samples in, get exactly the offline outputs.

A causal stack (WaveNet, a TCN, :class:`atrous.nn.CausalDilatedStack`) computes output ``t``
from inputs ``<= t``. Run offline it needs the whole signal; streamed, each layer needs only the
last ``(k-1)*d`` frames of its input (what its left padding stands for). :func:`stream` traces the
model with :mod:`torch.fx` and reads, for every node it can run on chunks (a convolution, a zero
``F.pad``, a slice of the time axis, a pointwise op or a merge of paths at the same rate), the
one geometry: the layer the torch front end's converters give the call
(:func:`atrous.fx.node_layer.node_layer`) and its :meth:`~atrous.layers.Layer.axis_geometry`
record. A ``Taps`` record (output ``u`` reads ``s*u - offset + j*d``, ``j < k``) gives the
units a node reads, its output sizes how many units it pads or drops on the right; the box of
the output and every node's rate come from :func:`atrous.receptive_fields` of a graph of those
layers. Stream then checks that the model is causal: the units of every node that the output
uses (traced back from the output through each reader's ``Taps``) read no padding on the right,
so the concatenated pushes equal the offline output. A node may read right-hand padding as long
as a later slice drops every unit that does: the TCN of Bai, Kolter & Koltun (2018) pads each
convolution by ``(k-1)*d`` on both sides and slices that tail off (``Chomp1d``). A slice that
drops more than that shortens the offline output: pushes emit only the units the offline output
of the samples pushed so far has (a larger ``lag``). Stream keeps exactly the buffers (the
most frames each node's readers still need, over every phase of the strides).

    >>> import torch
    >>> from atrous.nn import CausalDilatedStack
    >>> net = CausalDilatedStack(2, kernel_size=2, dilations=[1, 2, 4]).eval()
    >>> s = stream(net)
    >>> s.buffer_frames, s.receptive_field
    (7, 8)
    >>> x = torch.randn(1, 2, 20)
    >>> y = torch.cat([s.push(x[..., i:i + 3]) for i in range(0, 20, 3)], -1)
    >>> torch.allclose(y, net(x), atol=1e-6)
    True

A node whose record is not ``Taps`` or the identity (a transposed convolution scatters, an
interpolation samples, a global pooling reads the whole axis, an unmodelled call), an operation
stream cannot run on chunks (pooling, a permute), or a model whose output reads the future (a
symmetric padding, a chomp shorter than the padding, a strided layer padded on the right whose
padded units are read) is refused, naming the node.
"""

from __future__ import annotations

from typing import Any

from ._stream_graph import _Analyser, _caller, _exec, _Op
from .errors import AtrousError

__all__ = ["Stream", "stream"]

_INPUT, _POINTWISE, _POINTWISE1, _CONV, _CUT = range(5)
"""How a node runs in a push: the input, a pointwise op (of one input), a convolution, a pad
or slice."""


def _weights(conv: dict[str, Any]) -> tuple[Any, Any]:
    """A convolution's weight and bias as its module holds them now (a state dict loaded,
    ``.double()`` or a weight norm's ``g``/``v`` changed after :func:`stream`): read at each
    push, after the weight norm's pre-hook recomputes the weight as a call would."""
    mod = conv.get("module")
    if mod is None:
        return conv["weight"], conv["bias"]
    for hook in mod._forward_pre_hooks.values():  # only WeightNorm's (checked)
        hook(mod, None)
    return mod.weight, mod.bias


class Stream:
    """A causal model run chunk by chunk; see :func:`stream`.

    Attributes:
        receptive_field: input samples one output depends on.
        buffers: per node, the frames of its output kept between pushes for the layers that
            read it (``(k-1)*d`` for a convolution's input; shared by convolutions that read the
            same node).
        buffer_frames: their total (``receptive_field - 1`` for a plain causal stack).
        lag: output ``t`` is emitted once input ``t * stride + lag`` has been pushed (0 for a
            causal stack that keeps the length; ``receptive_field - 1`` for valid
            convolutions; more where a slice at the end drops more than the padding, e.g. a
            ``Chomp1d`` longer than it: output ``t`` exists offline only from a later length).
        stride: input samples per output sample (the product of the layers' strides).
    """

    def __init__(self, model: Any) -> None:
        import torch.fx as fx

        self.model = model
        try:
            self._gm = fx.symbolic_trace(model)
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise AtrousError(f"stream: torch.fx cannot trace {type(model).__name__} "
                              f"({first}); stream needs a traceable model") from None
        self._ops = _Analyser(self._gm).run()
        outs = [n for n in self._gm.graph.nodes if n.op == "output"]
        out_arg = outs[0].args[0]
        if not isinstance(out_arg, fx.Node):
            raise AtrousError("stream: the model must return one tensor")
        self._out = out_arg.name
        if self._ops[self._out].kind == "const":
            raise AtrousError(f"stream: the output {self._out!r} does not depend on the "
                              "model's input; stream needs an output computed from it")
        self._nodes = {n.name: n for n in self._gm.graph.nodes}
        self._consumers: dict[str, list[_Op]] = {n: [] for n in self._ops}  # readers, in order
        for op in self._ops.values():
            for a in op.ts_args:
                self._consumers[a].append(op)
        self._geometry()
        # per history, the (stride, lo, name) of each reader: what it still needs (the
        # output keeps nothing: it is emitted)
        self._readers = {name: () if name == self._out else
                         tuple((u.stride, u.lo, u.name) for u in users)
                         for name, users in self._consumers.items()}
        self.buffers = self._buffer_sizes()
        self.buffer_frames = sum(self.buffers.values())
        self.reset()

    def _buffer_sizes(self) -> dict[str, int]:
        """Frames each node keeps between pushes: what its most-lagging reader still needs
        (the maximum over the pushed lengths: with strides it depends on the phase)."""
        counts = self._probe_counts
        buffers: dict[str, int] = {}
        for name, users in self._consumers.items():
            if name not in counts or not users:
                continue
            held = max(int((counts[name] - (u.stride * counts[u.name] + u.lo)).max())
                       for u in users)
            if held > 0:
                buffers[name] = held
        return buffers

    # -- geometry --------------------------------------------------------------------------
    def _geometry(self) -> None:
        """Unit 0's box and every node's rate from :func:`atrous.receptive_fields` of a Graph
        of the nodes' layers (the converted layer of each reading node, the identity for the
        others); then the causality check over every phase of the strides."""
        import numpy as np

        box, rate = self._receptive_fields()
        # What stream still computes itself: how many units of each node a pushed prefix of n
        # samples completes (_Op.counts) against the offline length (_Op.lengths) and the units
        # of it that the output uses (_Op.reads, from the output back), for every n.
        # A receptive field is the reads of one unit on an unbounded input; it says neither
        # which units a finite prefix completes nor where the offline output ends, which the
        # causality check and the per-phase buffers need. Both are floor-affine in n with a
        # period of the largest rate: a few periods past the offsets decide every length.
        period = max(rate.values())
        reach = sum(abs(op.lo) + abs(op.hi) + abs(op.right) for op in self._ops.values())
        self._probe = range(0, 3 * period + reach + 2)
        order = [op for op in self._ops.values() if op.kind != "const"]
        # every quantity below is an array over the probed input lengths n. "length": the
        # offline lengths; "count": the units a pushed prefix of n samples completes; "good":
        # the leading units of each node that read no padding after the end (the same offline
        # as in a signal that goes on: what pushes emit); "used": the units of each node the
        # output uses (a tail that only a later slice drops is not used). good >= used
        # everywhere and count == length at the output make the pushes, concatenated, the
        # offline output.
        n = np.arange(len(self._probe), dtype=np.int64)
        length, count, good = self._forward(order, n)
        self._check_merges(order, length)
        used = self._backward(order, n, length)
        self._probe_counts = count
        self._check_causal(order, length, good, used)
        self._emission(order, box, rate, count, length)

    def _receptive_fields(self) -> tuple[tuple[int, int], dict[str, int]]:
        """Unit 0's box (of input units) and each node's rate (its stride against the input),
        from the receptive fields of a Graph of the nodes' layers; a pointwise merge of paths
        of different rates is refused."""
        from .graph import Graph
        from .layers import Merge, Pointwise
        from .rf import receptive_fields

        g = Graph(1, type(self.model).__name__, method="stream")
        names: dict[str, str] = {}  # fx node -> graph node ("input" for the model input)
        for op in self._ops.values():
            if op.kind == "input":
                names[op.name] = "input"
            elif op.kind != "const":
                srcs = [names[i] for i in op.ts_args]
                layer = op.layer or (Merge("add") if len(srcs) > 1 else Pointwise(op.name))
                name = op.name if op.name not in g else f"{op.name}_"
                names[op.name] = g.add(layer, srcs, name=name)
        g.set_outputs(names[self._out])
        rfs = receptive_fields(g)
        rate = {n: int(rfs[names[n]].stride[0]) for n in names}
        for op in self._ops.values():
            rates = {rate[i] for i in op.ts_args}
            if op.kind == "pointwise" and len(rates) > 1:
                raise AtrousError(f"stream: node {op.name!r} merges paths of different "
                                  f"strides {sorted(rates)}")
        box = rfs[names[self._out]].box(0)[0]
        assert box is not None  # taps read at least one unit
        return box, rate

    def _forward(self, order: list[_Op], n: Any) -> tuple[dict[str, Any], dict[str, Any],
                                                          dict[str, Any]]:
        """The forward walk over the probed input lengths ``n``: each node's offline length,
        the units a pushed prefix completes, and the leading units that read no padding after
        the end (``length``, ``count``, ``good`` in :meth:`_geometry`)."""
        import numpy as np

        length: dict[str, Any] = {}
        count: dict[str, Any] = {}
        good: dict[str, Any] = {}
        for op in order:
            if op.kind == "input":
                length[op.name] = count[op.name] = good[op.name] = n
                continue
            length[op.name] = op.lengths([length[i] for i in op.ts_args])
            count[op.name] = op.counts([count[i] for i in op.ts_args])
            good[op.name] = np.minimum(length[op.name],
                                       op.counts([good[i] for i in op.ts_args]))
        return length, count, good

    def _check_merges(self, order: list[_Op], length: dict[str, Any]) -> None:
        """Offline, a merge of paths of different lengths fails: refused, with the lengths."""
        import numpy as np

        for op in order:
            if op.kind != "pointwise" or len(op.ts_args) < 2:
                continue
            ls = np.array([length[i] for i in op.ts_args])
            differ = (ls.min(0) > 0) & (ls.min(0) != ls.max(0))
            if differ.any():
                k = int(np.flatnonzero(differ)[0])
                raise AtrousError(
                    f"stream: node {self._where(op.name)} merges paths of different lengths "
                    f"({', '.join(f'{i!r}: {int(length[i][k])}' for i in op.ts_args)} samples "
                    f"for an input of {k}); the model fails on such input offline")

    def _backward(self, order: list[_Op], n: Any, length: dict[str, Any]) -> dict[str, Any]:
        """The backward consumption walk: the units of each node the output uses, from the
        output back through each reader's reads (a tail only a later slice drops is unused)."""
        import numpy as np

        used = {op.name: np.zeros_like(n) for op in order}
        used[self._out] = length[self._out]
        for op in reversed(order):
            for i in op.ts_args:
                used[i] = np.maximum(used[i], op.reads_all(used[op.name], length[i]))
        return used

    def _check_causal(self, order: list[_Op], length: dict[str, Any], good: dict[str, Any],
                      used: dict[str, Any]) -> None:
        """Refuse a model whose output uses a unit that reads padding after the end."""
        import numpy as np

        def first(bad: Any) -> int:  # a refusal names the shortest non-empty input
            at = np.flatnonzero(bad)
            return int(at[1] if at[0] == 0 and len(at) > 1 else at[0])

        # the first node (in the order of the graph) that falls short, at a length where it
        # does, reads padding past the end of its input (its inputs hold every unit it reads)
        for op in order:
            short = good[op.name] < used[op.name]
            if not short.any():
                continue
            k = first(short)
            has, needs = int(good[op.name][k]), int(used[op.name][k])
            reader = next((f"node {self._where(u.name)} reads" for u in self._consumers[op.name]
                           if u.reads(int(used[u.name][k]), int(length[op.name][k])) > has),
                          "the output keeps")
            raise AtrousError(
                f"stream: the model is not causal: node {self._where(op.name)} reads padding "
                f"after the end of an input of {k} sample(s) in {needs - has} unit(s) that "
                f"{reader} (its output depends on the future); stream needs a causal model "
                "(left padding only, or right padding that a later slice drops)")

    def _emission(self, order: list[_Op], box: tuple[int, int], rate: dict[str, int],
                  count: dict[str, Any], length: dict[str, Any]) -> None:
        """What pushes emit and when: the output's counts, the first run's length, the box,
        the stride and the lag."""
        import numpy as np

        out = self._out
        # a pushed prefix may complete output units the offline output of that length does
        # not have (a slice at the end drops more than the padding): pushes emit only the
        # units an output of the pushed length has, which then stay (its length only grows)
        emitted = np.minimum(count[out], length[out])
        count[out] = emitted
        self._order = order
        self._length_path = self._first_input_path()
        # the first push runs the model on the shortest input every node has a unit of (a
        # valid convolution refuses a shorter one)
        runs = np.flatnonzero(np.all([length[op.name] > 0 for op in order], axis=0))
        self._run_length = int(runs[0]) if len(runs) else None
        self.box = box
        self.receptive_field = box[1] - box[0] + 1
        self.stride = rate[out]
        # output t is emitted at the first pushed length n where emitted(n) > t (n > 0: what
        # a delay emits before any sample says nothing); the probe covers every phase
        firsts = np.searchsorted(emitted, np.arange(int(emitted[-1])), side="right")
        late = (firsts - 1 - self.stride * np.arange(len(firsts)))[firsts > 0]
        self.lag = max(box[1], int(late.max()) if len(late) else box[1])

    def _length(self, n: int) -> int:
        """The offline output's length for an input of ``n`` samples: a pointwise node is as
        long as its first input, so the taps on the path of first inputs from the input to
        the output decide it (the rule of :meth:`_Op.lengths` for each, in order)."""
        for hi, right, s in self._length_path:
            n = max(0, (n - 1 - hi + right) // s + 1)
        return n

    def _first_input_path(self) -> list[tuple[int, int, int]]:
        """The (hi, right, stride) of the taps from the input to the output along the first
        input of each node (what :meth:`_length` composes)."""
        path, name = [], self._out
        while self._ops[name].kind != "input":
            op = self._ops[name]
            if op.kind == "taps":
                path.append((op.hi, op.right, op.stride))
            name = op.ts_args[0]
        return path[::-1]

    def _where(self, name: str) -> str:
        """A node's name, with the module it was traced in for a function or a method (the
        slice of a ``Chomp1d`` is a ``getitem`` node)."""
        node = self._nodes[name]
        stack = node.meta.get("nn_module_stack") or {}
        if node.op == "call_module" or not stack:
            return repr(name)
        path, kind = list(stack.values())[-1]
        kind = getattr(kind, "__name__", str(kind))
        return f"{name!r} (in {path}, {kind})" if path else repr(name)

    def check_receptive_field(self, channels: int, length: int | None = None) -> None:
        """Cross-check the composed box with :func:`atrous.receptive_field` of the model."""
        from .rf import receptive_field

        n = length or max(64, 4 * self.receptive_field)
        rf = receptive_field(self.model, (1, channels, n))
        box = rf.box(0)[0]
        if rf.partial or box != self.box:
            raise AtrousError(
                f"stream: the composed reads {self.box} of output sample 0 disagree with the "
                f"receptive field {box} atrous computes for the model"
                + (" (partial)" if rf.partial else ""))

    # -- running ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the pushed samples (start a new signal)."""
        # per node: its output's frames (a tensor, or a tuple from chunk/split), the unit of
        # their first frame (_base) and the first unit readers still need (_start): frames
        # before it are dropped only when the history next grows (:meth:`_trim`)
        self._hist: dict[str, Any] = {}
        self._base: dict[str, int] = {}
        self._start: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._consts: dict[str, Any] = {}
        self._pushed = 0
        self._first: tuple[Any, ...] | None = None  # (N, C, dtype, device) of this signal
        self._empty: Any = None  # the model's output for this signal, 0 samples long

    def push(self, chunk: Any) -> Any:
        """Feed ``chunk`` ``(N, C, T)`` (any ``T >= 0``); return the newly final outputs
        ``(N, C_out, T')`` (``T'`` may be 0). Concatenated over pushes, they equal the offline
        output.

        The first push of a signal runs the model once on zeros shaped as the chunk, as few
        samples as give every node a unit (the outputs' channels, dtype and device; a chunk
        the model refuses is refused here, in one line). Later chunks must have that batch
        size, channel count, dtype and device (:meth:`reset` starts another signal). A
        refused push changes nothing. The stream keeps copies of the frames it still needs:
        the caller may refill ``chunk``'s buffer for the next push.

        Shape:
            - chunk: ``(N, C, T)``; output: ``(N, C_out, T')``.
        """
        import torch

        if not isinstance(chunk, torch.Tensor) or chunk.dim() != 3:
            got = tuple(chunk.shape) if isinstance(chunk, torch.Tensor) else type(chunk).__name__
            raise AtrousError(f"stream.push needs a (N, C, T) tensor, got {got}")
        spec = (chunk.shape[0], chunk.shape[1], chunk.dtype, chunk.device)
        if self._first is not None and spec[:2] != self._first[:2]:
            raise AtrousError(
                f"stream.push: a chunk of {spec[0]} x {spec[1]} (N x C), this signal's first was "
                f"{self._first[0]} x {self._first[1]}; call reset() to start another signal")
        if self._first is not None and spec[2:] != self._first[2:]:
            raise AtrousError(
                f"stream.push: a chunk of {spec[2]} on {spec[3]}, this signal's first was "
                f"{self._first[2]} on {self._first[3]}; call reset() to start another signal")
        # a failed push changes nothing: the state is restored (tensors are never modified)
        saved = (dict(self._hist), dict(self._base), dict(self._start), dict(self._done),
                 self._pushed, self._first, self._empty)
        # oneDNN builds a new kernel for every small window shape (tens of ms each); the
        # native kernel is the right one for a few frames at a time
        mkldnn: Any = torch.backends.mkldnn
        before = bool(mkldnn.enabled)
        mkldnn.enabled = False
        try:
            with torch.no_grad():
                if self._first is None:
                    self._empty = self._probe_output(chunk)
                    self._first = spec
                return self._push(chunk)
        except BaseException:
            (self._hist, self._base, self._start, self._done, self._pushed, self._first,
             self._empty) = saved
            raise
        finally:
            mkldnn.enabled = before

    def _probe_output(self, chunk: Any) -> Any:
        """The model's output for zeros shaped as ``chunk``, as short as gives every node a
        unit, cut to 0 samples: the shape, dtype and device of this signal's outputs, and the
        model's own refusal of a chunk it cannot take (one line)."""
        n = self._run_length if self._run_length is not None else max(self.lag, 0) + 1
        zeros = chunk.new_zeros((*chunk.shape[:2], n))
        try:
            y = self.model(zeros)
        except Exception as exc:  # the offline model refuses such input the same way
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise AtrousError(f"stream.push: the model refuses a {tuple(chunk.shape[:2])} "
                              f"(N, C) chunk of {chunk.dtype}: {first}") from None
        return y[..., :0]

    def _push(self, chunk: Any) -> Any:
        """Run every node on the units it can newly complete: each node in graph order reads
        its inputs' held units (zeros before unit 0), appends what it computes, and every
        history then drops the frames no reader needs any more (:meth:`_trim`)."""
        import torch
        import torch.nn.functional as F

        if not self._consts:
            self._prepare()
        pushed = self._pushed = self._pushed + chunk.shape[-1]
        done, append, gather, last = self._done, self._append, self._gather, self._out
        conv1d, tensor, out, get = F.conv1d, torch.Tensor, None, self._done.get
        fresh, consts = False, self._const_ids
        for code, name, srcs, s, lo, hi, run, own in self._plan:
            if code == _INPUT:
                if name not in self._hist:  # the history keeps a copy: the caller may
                    chunk = chunk.clone()  # refill its buffer (later pushes concatenate)
                append(name, chunk)
                done[name] = pushed
                if name == last:  # a model that returns its input
                    out = chunk
                continue
            had = get(name, 0)
            if code == _POINTWISE1:  # an input with nothing emitted yet (-1): nothing to run
                target = get(srcs, -1)
            elif code == _POINTWISE:
                target = min([get(i, -1) for i in srcs])
            elif srcs in done:  # units s*had + lo .. s*(target - 1) + hi of the input
                target = max(0, (done[srcs] - 1 - hi) // s + 1)
            else:
                continue  # its input has emitted nothing yet: nothing but padding to read
            if target <= had:
                continue
            if name == last:  # no unit the offline output of this length lacks
                target = min(target, self._length(pushed))
                if target <= had:
                    continue
            if code == _POINTWISE1:
                x = gather(srcs, had, target)
                value = run(x)
                # a new tensor (no view, no input, no constant): nothing else holds it
                fresh = (own and type(value) is tensor and value._base is None
                         and value is not x and id(value) not in consts)
            elif code == _POINTWISE:
                values = [gather(i, had, target) for i in srcs]
                value = run(values)
                fresh = own and type(value) is tensor and value._base is None and (
                    id(value) not in consts and not any(value is v for v in values))
            else:
                window = gather(srcs, s * had + lo, s * (target - 1) + hi + 1)
                if code == _CONV:
                    conv, dilation, groups = run
                    weight, bias = _weights(conv)
                    value = conv1d(window, weight, bias, s, 0, dilation, groups)
                    fresh = own
                else:  # zero padding or a slice
                    value = window[..., ::s] if s > 1 else window
                    if run is not None:
                        value = value[run]
                    fresh = False
            done[name] = target
            append(name, value, fresh)
            if name == last:
                out = value
        self._trim()
        return self._empty if out is None else out

    def _prepare(self) -> None:
        """This signal's constants, then the plan of a push: per node in graph order, what it
        reads, how it runs (the module, the method, the arguments resolved once), and whether
        its history may keep a new tensor it computes as it is (not the output when a node
        reads the output: that tensor is what the push returns)."""
        self._init_consts()
        self._const_ids = {id(v) for v in self._consts.values()}
        # (how it runs, name, its input(s): one name or a tuple of names, stride, lo, hi,
        # what runs it, whether its history may keep a new tensor as it is)
        plan: list[tuple[int, str, Any, int, int, int, Any, bool]] = []
        for op in self._order:
            own = op.name != self._out or not self._consumers[op.name]
            src = op.ts_args[0] if op.ts_args else ""
            if op.kind == "input":
                plan.append((_INPUT, op.name, "", 1, 0, 0, None, False))
            elif op.kind == "pointwise":
                run = _caller(self._gm, self._nodes[op.name], op.ts_args, self._consts)
                if len(op.ts_args) == 1:
                    plan.append((_POINTWISE1, op.name, src, 1, 0, 0, run, own))
                else:
                    plan.append((_POINTWISE, op.name, tuple(op.ts_args), 1, 0, 0, run, own))
            elif op.conv is not None:
                conv = (op.conv, op.conv["dilation"], op.conv["groups"])
                plan.append((_CONV, op.name, src, op.stride, op.lo, op.hi, conv, own))
            else:
                plan.append((_CUT, op.name, src, op.stride, op.lo, op.hi, op.index, False))
        self._plan = plan

    def _init_consts(self) -> None:
        import torch.fx as fx

        env: dict[str, Any] = {}
        for node in self._gm.graph.nodes:
            op = self._ops.get(node.name)
            if op is None or op.kind != "const":
                continue
            if node.op == "get_attr":
                obj: Any = self._gm
                for part in str(node.target).split("."):
                    obj = getattr(obj, part)
                env[node.name] = obj
            else:
                args, kwargs = fx.node.map_arg((node.args, node.kwargs),
                                               lambda n: env[n.name])
                env[node.name] = _exec(self._gm, node, args, kwargs)
        self._consts = env or {"": None}

    def _append(self, name: str, value: Any, fresh: bool = False) -> None:
        """Append ``value`` (the units after the held ones) to ``name``'s history: the frames
        still needed, then ``value``, in one tensor (``torch.cat``). A ``fresh`` value (a new
        tensor nothing else holds) after no frame still needed is kept as it is: the copy
        ``torch.cat`` would make of it has its values, shape, dtype and layout."""
        import torch

        hist = self._hist
        old = hist.get(name)
        if old is None:
            hist[name] = value
            self._base[name] = self._start[name] = 0
            return
        start = self._start[name]
        off = start - self._base[name]
        if isinstance(old, torch.Tensor):
            if (fresh and off == old.shape[-1] and value.dtype == old.dtype
                    and value.device == old.device and value.is_contiguous()):
                hist[name] = value
            else:
                hist[name] = torch.cat([old[..., off:] if off else old, value], -1)
        else:
            hist[name] = type(old)(torch.cat([a[..., off:] if off else a, b], -1)
                                   for a, b in zip(old, value))
        self._base[name] = start

    def _gather(self, name: str, a: int, b: int) -> Any:
        """Units ``[a, b)`` of node ``name`` (zeros before unit 0: the left padding): the
        view a slice of the trimmed history gives (the held tensor itself when that view
        would be all of it)."""
        import torch

        hist, base, start = self._hist[name], self._base[name], self._start[name]
        if a >= start and b >= start:  # the same view as a cut of the trimmed frames
            i, j = a - base, b - base
            if isinstance(hist, torch.Tensor):
                return hist if i == 0 and j >= hist.shape[-1] else hist[..., i:j]
            return type(hist)(t[..., i:j] for t in hist)
        # a read before the start begins before unit 0 (readers never read a unit before the
        # start, which is the least they still need): zeros, then the frames from unit 0

        def cut(t: Any) -> Any:
            part = t[..., max(a, 0) - base: b - base]
            if a >= 0:
                return part
            zeros = t.new_zeros((*t.shape[:-1], min(b, 0) - a))
            return torch.cat([zeros, part], -1)

        if isinstance(hist, torch.Tensor):
            return cut(hist)
        return type(hist)(cut(t) for t in hist)

    def _trim(self) -> None:
        """Move each history's start to the first unit a reader still needs (never past the
        units held: a strided slice's next read can lie beyond them). The frames before it
        go when the history next grows (:meth:`_append`): a slice of them now would keep
        their storage just as long."""
        start, done, readers_of = self._start, self._done, self._readers
        get = done.get
        for name in self._hist:
            have, readers = done[name], readers_of[name]
            if len(readers) == 1:
                ((s, lo, u),) = readers
                keep = s * get(u, 0) + lo
                keep = have if keep > have else keep
            elif readers:  # the output and a node nothing reads keep no frame
                keep = min([s * get(u, 0) + lo for s, lo, u in readers])
                keep = have if keep > have else keep
            else:
                keep = have
            if keep > start[name]:
                start[name] = keep

    @property
    def held_frames(self) -> dict[str, int]:
        """Frames each node holds now (after a push): the buffers actually kept."""
        import torch

        out = {}
        for name, hist in self._hist.items():
            t = hist if isinstance(hist, torch.Tensor) else hist[0]
            held = t.shape[-1] - (self._start[name] - self._base[name])
            if held and name != self._out:
                out[name] = int(held)
        return out


def stream(model: Any, *, channels: int | None = None) -> Stream:
    """A streaming runner for a causal 1-D model: ``push(chunk)`` returns the new outputs.

    Args:
        model: an ``nn.Module`` in eval mode, taking ``(N, C, T)`` and returning one tensor,
            made of convolutions (``nn.Conv1d``, ``F.conv1d``,
            :class:`atrous.nn.CausalDilatedConv1d`; strided ones emit one output every
            ``stride`` inputs), ``F.pad``, slices of the time axis, pointwise ops and merges
            (``+``, ``*``, ``torch.cat`` on channels) of paths at the same rate. Padding on
            the right is fine where a later slice drops every unit that reads it (a TCN's
            ``Chomp1d``: ``x[:, :, :-chomp].contiguous()``).
        channels: input channels; when given, the composed receptive field is cross-checked
            with :func:`atrous.receptive_field` at once.

    Returns:
        A :class:`Stream`.

    Raises:
        AtrousError: for a model that is not causal (a unit the output uses reads padding
            after the end of the input; the node that reads it and its reader are named), or
            an operation stream has no rule for (named).
    """
    if channels is not None:
        from ._types import as_int

        channels = as_int(channels, "channels", 1)
    s = Stream(model)
    if channels is not None:
        s.check_receptive_field(channels)
    return s
