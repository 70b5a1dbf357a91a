"""The MoE layer: routing, dispatch, balance loss, gradients."""

import pytest
import torch
from torch import nn

from fusecli.models.layers.moe import GLUExpert, ImageMoE, MoEGLU, Router, cv_squared, dispatch, load_balance_loss


def dense_reference(x, routing, experts):
    """Every expert on every row, combined with the dense gate matrix."""
    gates = routing.dense_gates()
    outs = torch.stack([e(x) for e in experts], dim=1)  # (N, E, ...)
    return (outs * gates.view(*gates.shape, *([1] * (outs.ndim - 2)))).sum(1)


def test_zero_init_router_routes_uniformly():
    router = Router(16, 4, 2)
    routing = router(torch.randn(64, 16))
    assert torch.allclose(routing.probs, torch.full((64, 4), 0.25))
    assert torch.allclose(routing.weights, torch.full((64, 2), 0.5))
    assert float(cv_squared(routing.importance()).detach()) == pytest.approx(0.0, abs=1e-12)


def test_dispatch_matches_dense_computation():
    torch.manual_seed(0)
    router = Router(8, 4, 2)
    nn.init.normal_(router.gate.weight)
    experts = [GLUExpert(8, 12) for _ in range(4)]
    x = torch.randn(50, 8)
    routing = router(x)
    assert routing.indices.unique().numel() > 2  # the test must exercise several experts
    assert torch.allclose(dispatch(x, routing, experts), dense_reference(x, routing, experts), atol=1e-6)


def test_dispatch_runs_only_routed_experts():
    calls = []

    class Counting(nn.Module):
        def __init__(self, i):
            super().__init__()
            self.i = i

        def forward(self, x):
            calls.append((self.i, x.shape[0]))
            return x * (self.i + 1)

    router = Router(4, 4, 1)
    with torch.no_grad():
        router.gate.weight.zero_()
        router.gate.weight[2, 0] = 10.0  # rows with a first feature go to expert 2
        router.gate.weight[1, 1] = 10.0  # rows with a second feature go to expert 1
    x = torch.zeros(6, 4)
    x[:3, 0] = 1.0
    x[3:, 1] = 1.0
    routing = router(x)
    out = dispatch(x, routing, [Counting(i) for i in range(4)])
    ran = dict(calls)
    assert ran == {1: 3, 2: 3}  # experts 0 and 3 never ran
    assert torch.allclose(out[:3], x[:3] * 3) and torch.allclose(out[3:], x[3:] * 2)


def test_load_loss_zero_when_balanced_and_grows_with_imbalance():
    router = Router(4, 4, 1)
    balanced = router(torch.randn(8, 4))  # zero init: all equal probs; counts from topk ties
    probs = torch.full((8, 4), 0.25)
    from fusecli.models.layers.moe import Routing

    even = Routing(torch.arange(8).remainder(4)[:, None], torch.ones(8, 1), probs, torch.full((4,), 2.0))
    assert float(load_balance_loss(even)) == pytest.approx(0.0, abs=1e-9)
    losses = []
    for skew in (0.3, 0.6, 0.9):
        p = torch.full((8, 4), (1 - skew) / 3)
        p[:, 0] = skew
        load = torch.tensor([8 * skew, 8 * (1 - skew) / 3, 8 * (1 - skew) / 3, 8 * (1 - skew) / 3])
        losses.append(float(load_balance_loss(Routing(torch.zeros(8, 1, dtype=torch.long), torch.ones(8, 1), p, load))))
    assert losses[0] < losses[1] < losses[2]
    assert balanced.weights.shape == (8, 1)


def test_gradients_reach_every_routed_expert_and_the_router():
    torch.manual_seed(1)
    layer = MoEGLU(8, 16, routed=4, shared=1, top_k=2, noisy=True).train()
    nn.init.normal_(layer.router.gate.weight, std=0.5)
    x = torch.randn(3, 40, 8)
    y = layer(x)
    (y.square().mean() + layer.stats.loss).backward()
    routed = set(layer.stats.routing.indices.unique().tolist())
    for i, expert in enumerate(layer.experts):
        has_grad = expert.w1.weight.grad is not None and expert.w1.weight.grad.abs().sum() > 0
        assert has_grad == (i in routed)
    assert layer.shared[0].w1.weight.grad.abs().sum() > 0
    assert layer.router.gate.weight.grad.abs().sum() > 0
    assert layer.router.noise.weight.grad.abs().sum() > 0  # through the soft load estimate
    assert y.shape == x.shape


def test_aux_free_bias_moves_towards_balance():
    router = Router(4, 4, 1, bias_update=0.01)
    with torch.no_grad():
        router.gate.weight[0] = 1.0  # everything prefers expert 0
    x = torch.rand(32, 4)
    router.update_bias(router(x))
    assert router.selection_bias[0] < 0 and (router.selection_bias[1:] > 0).all()


def test_image_moe_routes_whole_images_any_size():
    experts = [nn.Conv2d(3, 2, 3, padding=1) for _ in range(4)]
    moe = ImageMoE(3, experts, top_k=2, pool=4).eval()
    for h, w in ((97, 131), (16, 20)):
        x = torch.randn(2, 3, h, w)
        y = moe(x)
        assert y.shape == (2, 2, h, w)
        assert torch.allclose(y, dense_reference(x, moe.stats.routing, experts), atol=1e-5)
    assert moe.stats.utilisation.sum() == pytest.approx(1.0)
