"""atrous.dask.map_model against the whole-array forward pass, threaded and distributed."""

from __future__ import annotations

import pytest

da = pytest.importorskip("dask.array")
import torch  # noqa: E402
from test_tiling_models import build  # noqa: E402

from atrous import AtrousError  # noqa: E402
from atrous.dask import map_model  # noqa: E402
from atrous.tiling import tile_plan  # noqa: E402


def _data(shape: tuple[int, ...], chunks: tuple[int, ...]) -> tuple[torch.Tensor, object]:
    x = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    return x, da.from_array(x.numpy(), chunks=chunks)


def test_map_model_threaded_equals_whole() -> None:
    model = build("tconv-decoder")
    x, arr = _data((1, 1, 93, 70), (1, 1, 40, 30))
    plan = tile_plan(model, (1, 1, 93, 70), 24)
    y = map_model(model, arr, 24, plan=plan)
    assert y.numblocks[2:] == (4, 3)
    out = torch.from_numpy(y.compute(scheduler="threads"))
    with torch.no_grad():
        ref = model(x)
    assert (out - ref).abs().max().item() <= 1e-5
    # one pixel less halo on axis 1, before: differs
    halo = [list(h) for h in plan.halo]
    halo[1][0] -= 1
    bad = torch.from_numpy(map_model(model, arr, 24, plan=plan.with_halo(halo)).compute())
    assert (bad - ref).abs().max().item() > 1e-4


def test_map_model_on_a_distributed_cluster() -> None:
    distributed = pytest.importorskip("distributed")
    model = build("wavenet")
    x, arr = _data((2, 1, 301), (2, 1, 64))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        out = torch.from_numpy(client.compute(map_model(model, arr, 100)).result())
    with torch.no_grad():
        ref = model(x)
    assert (out - ref).abs().max().item() <= 1e-5


def test_map_model_refuses_what_cannot_be_tiled() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3), torch.nn.AdaptiveAvgPool2d(1)).eval()
    _, arr = _data((1, 1, 32, 32), (1, 1, 16, 16))
    with pytest.raises(AtrousError, match="whole map"):
        map_model(net, arr, 8)
    with pytest.raises(AtrousError, match=r"dask\.array\.Array"):
        map_model(net, torch.zeros(1, 1, 8, 8), 8)
