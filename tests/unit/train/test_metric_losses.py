"""The differentiable metrics agree with fusecli.metrics and pull the way the metrics do."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from fusecli.metrics.functional import ssim_pair
from fusecli.metrics.gradient import qabf, qcb, qcv
from fusecli.train import metric_losses as ML


def _pair(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """8-bit-valued 'infrared' (a warm blob, smooth) and 'visible' (texture) frames, 0..255."""
    yy, xx = np.mgrid[:size, :size] / size
    ir = 60 + 150 * np.exp(-((xx - 0.4) ** 2 + (yy - 0.5) ** 2) / 0.02) + 10 * cv2.GaussianBlur(rng.random((size, size)), (0, 0), 3)
    vis = 40 + 160 * cv2.GaussianBlur(rng.random((size, size)), (0, 0), 1.5) + 30 * (xx > 0.6)
    return np.round(np.clip(ir, 0, 255)), np.round(np.clip(vis, 0, 255))


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy((x / 255).astype(np.float64))[None, None]


@pytest.fixture
def images(rng, monkeypatch):
    monkeypatch.setattr(ML, "EVAL_SIZE", 96)  # the CSF grids of a whole 96-px image, as the metrics use
    ir, vis = _pair(rng, 96)
    fused = np.round(np.where(np.abs(ir - ir.mean()) > np.abs(vis - vis.mean()), ir, vis) * 0.5 + 0.25 * (ir + vis))
    return ir, vis, fused


def test_the_tensor_metrics_match_the_reported_ones(images):
    ir, vis, fused = images
    sources = torch.stack([_t(ir), _t(vis)], 1)
    assert float(ML.qabf(_t(fused), sources)) == pytest.approx(qabf(fused, [ir, vis]), rel=0.01)
    assert float(ML.qcv(_t(fused), sources)) == pytest.approx(qcv(fused, [ir, vis]), rel=0.02)
    assert float(ML.qcb(_t(fused), sources)) == pytest.approx(qcb(fused, [ir, vis]), rel=0.02)
    smallest = min(ssim_pair(fused, ir), ssim_pair(fused, vis))
    assert smallest <= float(ML.min_ssim(_t(fused), sources)) <= smallest + 0.02 * np.log(2) + 1e-9


def test_copying_a_source_loses_min_ssim_to_the_average(images):
    ir, vis, _ = images
    sources = torch.stack([_t(ir), _t(vis)], 1)
    average = np.round((ir + vis) / 2)
    for copy in (ir, vis):
        assert float(ML.min_ssim_loss(_t(copy), sources)) > float(ML.min_ssim_loss(_t(average), sources)) + 0.2


def test_every_metric_loss_has_finite_gradients_and_descends(images, rng):
    """On a fusion as a network writes it (float, no flat 8-bit runs: Qabf's orientation jumps
    where a gradient's x part is exactly 0), a small step against the gradient lowers each loss."""
    ir, vis, _ = images
    sources = torch.stack([_t(ir), _t(vis)], 1)
    fused = cv2.GaussianBlur((ir + vis) / 2, (0, 0), 0.7) + 0.3 * rng.random(ir.shape)
    for name in ML.METRIC_LOSS_NAMES:
        loss = getattr(ML, f"{name}_loss")
        x = _t(fused).clone().requires_grad_(True)
        before = loss(x, sources)
        before.backward()
        assert torch.isfinite(x.grad).all() and float(x.grad.abs().max()) > 0, name
        step = 1e-4 / float(x.grad.abs().max())
        after = loss((x - step * x.grad).detach(), sources)
        assert float(after) < float(before.detach()), name
