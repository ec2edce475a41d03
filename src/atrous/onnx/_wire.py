"""Reading an ``.onnx`` file without its weights.

The geometry needs the graph, the attributes, the shapes of the weights and the values of small
constants (pads, scales, shapes), not the megabytes of weights. This reader walks the protobuf
wire format of ``ModelProto`` and seeks past the ``raw_data`` of large initializers instead of
reading them, so a 170 MB ResNet-101 export costs what its graph costs. Any surprise in the file
makes it give up (``None``); the caller then reads the file with ``onnx.load``.
"""

from __future__ import annotations

from typing import IO, Any

_MODEL_GRAPH = 7  # ModelProto.graph
_GRAPH_INITIALIZER = 5  # GraphProto.initializer
_TENSOR_RAW_DATA = 9  # TensorProto.raw_data
KEEP_BYTES = 1 << 16  # raw data up to this size is kept (constants the analysis may fold)


def _varint(f: IO[bytes]) -> int:
    shift = result = 0
    while True:
        b = f.read(1)
        if not b:
            raise EOFError
        result |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _encode(value: int) -> bytes:
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _fields(f: IO[bytes], begin: int, end: int) -> list[tuple[int, int, bytes, int, int]]:
    """(field, wire type, tag bytes, start of payload, payload length) from ``begin`` to
    ``end``."""
    f.seek(begin)
    out = []
    while f.tell() < end:
        start = f.tell()
        key = _varint(f)
        field, wire = key >> 3, key & 7
        tag_end = f.tell()
        f.seek(start)
        tag = f.read(tag_end - start)
        if wire == 0:
            start = f.tell()
            _varint(f)
            out.append((field, wire, tag, start, f.tell() - start))
        elif wire == 1:
            out.append((field, wire, tag, f.tell(), 8))
            f.seek(8, 1)
        elif wire == 2:
            n = _varint(f)
            start = f.tell()
            out.append((field, wire, tag, start, n))
            f.seek(start + n)
        elif wire == 5:
            out.append((field, wire, tag, f.tell(), 4))
            f.seek(4, 1)
        else:
            raise ValueError(f"unsupported wire type {wire}")
    if f.tell() != end:
        raise EOFError
    return out


def _copy(f: IO[bytes], tag: bytes, begin: int, n: int, wire: int) -> bytes:
    f.seek(begin)
    body = f.read(n)
    if len(body) != n:
        raise EOFError
    return tag + (_encode(n) if wire == 2 else b"") + body


def _tensor(f: IO[bytes], begin: int, n: int) -> tuple[bytes, bool]:
    out, stripped = [], False
    for field, wire, tag, start, length in _fields(f, begin, begin + n):
        if field == _TENSOR_RAW_DATA and wire == 2 and length > KEEP_BYTES:
            stripped = True
            continue
        out.append(_copy(f, tag, start, length, wire))
    return b"".join(out), stripped


def _graph(f: IO[bytes], begin: int, n: int, stripped: set[str]) -> bytes:
    from onnx import TensorProto

    out = []
    for field, wire, tag, start, length in _fields(f, begin, begin + n):
        if field == _GRAPH_INITIALIZER and wire == 2:
            body, cut = _tensor(f, start, length)
            if cut:
                t = TensorProto()
                t.ParseFromString(body)
                stripped.add(t.name)
            out.append(tag + _encode(len(body)) + body)
        else:
            out.append(_copy(f, tag, start, length, wire))
    return b"".join(out)


def read_without_weights(path: str) -> tuple[Any, set[str]] | None:
    """The ModelProto without the data of large initializers, and their names; None when the
    file is not what this reader expects."""
    import onnx

    stripped: set[str] = set()
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(0)
            out = []
            for field, wire, tag, start, length in _fields(f, 0, size):
                if field == _MODEL_GRAPH and wire == 2:
                    body = _graph(f, start, length, stripped)
                    out.append(tag + _encode(len(body)) + body)
                else:
                    out.append(_copy(f, tag, start, length, wire))
        model = onnx.ModelProto()
        model.ParseFromString(b"".join(out))
    except Exception:
        return None
    return model, stripped
