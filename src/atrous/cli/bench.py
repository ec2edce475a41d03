"""`atrous bench`: the dilation tax timed on this machine (:func:`atrous.nn.bench.dilation_tax`)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import AtrousError
from ._common import add_command, parse_ints, parse_size, print_json

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Time a dilated convolution against an undilated one, per implementation: the "dilation tax".

Some GPU stacks run dilated convolutions several times slower than dense ones (reported: ~4x on
cuDNN at dilation 2-3, 10-80x with cudnn.deterministic, 62x on MIOpen). Splitting the input into
its d x d phases turns one dilated convolution into dense ones:
  native          F.conv2d with dilation=d
  space_to_batch  the phases as one batch, one dense convolution (TensorFlow's atrous_conv2d)
  phase           one dense convolution per phase, written into its slice of the output
  auto            what impl="auto" in atrous.nn picks, probed once per device, dtype and shape:
                  native, unless another one was 10% faster in each of 5 interleaved rounds
Each cell is the fastest of --repeats rounds after a warm-up, every round running each
implementation once in a rotating order (on a CPU the process's CPU time, which other programs
on the same cores do not inflate; on a GPU synchronised wall time), and t(d)/t(1) with t(1) =
native at dilation 1 on the same input. Under the table: what auto picked per dilation, its
time over native's, and how far the outputs are from native. The defaults take a few seconds
on a CPU; a GPU run wants a larger input (--size 8x64x128x128)."""

EPILOG = """\
examples:
  atrous bench                                   1x32x64x64 float32 on the CPU, dilations 1,2,4,8
  atrous bench --dilations 1,2,3,4,6,8,12,16,24 --threads 1
  atrous bench --device cuda --size 8x64x128x128 --dtype bfloat16 --deterministic both
  atrous bench --backward                        forward + backward (input and weight grads)
  atrous bench --size 1x64x4096 --kernel 2       a 1-D (WaveNet-style) convolution
  atrous bench --json"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``atrous bench``."""
    p = add_command(
        sub, "bench", "time dilated convolutions per implementation (the dilation tax)",
        DESCRIPTION, EPILOG, run,
    )
    p.add_argument("--size", default="1x32x64x64", metavar="NxCx...",
                   help="input size N x C x spatial (1 to 3 spatial axes)")
    p.add_argument("--out-channels", type=int, default=None, help="output channels (default: C)")
    p.add_argument("-k", "--kernel", type=int, default=3, help="kernel size on every axis")
    p.add_argument("--dilations", default="1,2,4,8", help="the rates to time (1 is always added)")
    p.add_argument("--impls", default="native,space_to_batch,phase,auto",
                   help="implementations to time (also: zero_kernel)")
    p.add_argument("--dtype", default="float32",
                   choices=("float32", "bfloat16", "float16", "float64"), help="tensor dtype")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--deterministic", default="off", choices=("off", "on", "both"),
                   help="torch.backends.cudnn.deterministic during the runs")
    p.add_argument("--backward", action="store_true",
                   help="time forward + backward instead of forward alone")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds (fastest counts)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's own choice)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    size = parse_size(args.size, "--size")
    if not 3 <= len(size) <= 5:
        raise AtrousError(
            f"--size must be N x C x 1 to 3 spatial sizes, e.g. 1x32x64x64, got {args.size!r}"
        )
    dilations = parse_ints(args.dilations, "--dilations")
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    det = {"off": (False,), "on": (True,), "both": (False, True)}[args.deterministic]
    import torch

    from ..nn.bench import dilation_tax

    if args.threads is not None:
        if args.threads < 1:
            raise AtrousError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    try:
        device = torch.device(args.device)
    except RuntimeError:
        raise AtrousError(f"--device must be cpu, cuda or cuda:N, got {args.device!r}") from None
    try:
        tax = _measure(dilation_tax, args, size, dilations, impls, det, device)
    except RuntimeError as exc:  # e.g. a dtype this device's convolution does not support
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AtrousError(f"torch could not run the convolution: {first}") from None
    if args.json:
        print_json(tax.to_json())
    else:
        print(tax.table())
    return 0


def _measure(
    dilation_tax: Any, args: argparse.Namespace, size: Any, dilations: Any, impls: Any,
    det: Any, device: Any,
) -> Any:
    return dilation_tax(
        size,
        out_channels=args.out_channels,
        kernel=args.kernel,
        dilations=dilations,
        impls=impls,
        dtype=args.dtype,
        device=device,
        deterministic=det,
        backward=args.backward,
        repeats=args.repeats,
    )
