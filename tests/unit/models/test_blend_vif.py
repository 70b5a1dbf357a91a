"""blend-vif: a torch Laplacian pyramid equal to OpenCV's, a start equal to energy-vif, and an
output that only blends the sources' bands."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from fusecli.methods.pyramid import collapse as cv_collapse
from fusecli.methods.pyramid import laplacian_pyramid as cv_pyramid
from fusecli.methods.pyramid import pyramid_levels
from fusecli.methods.vif import energy_vif
from fusecli.models.base import FuseOptions, fuse_padded
from fusecli.models.blend_vif_arch import BlendVIF, BlendVIFConfig, collapse, laplacian_pyramid, pyramid_depth


def _scene(rng: np.random.Generator, h: int, w: int, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), sigma)


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x)[None, None]


@pytest.mark.parametrize("shape", [(181, 243), (64, 64), (33, 50)])
def test_the_pyramid_is_opencvs_and_collapses_back_to_the_image(rng, shape):
    image = _scene(rng, *shape, 2.0)
    ours = laplacian_pyramid(_tensor(image), 4)
    for band, reference in zip(ours, cv_pyramid(image, 4)):
        assert band.shape[-2:] == reference.shape
        np.testing.assert_allclose(band[0, 0].numpy(), reference, atol=1e-6)
    np.testing.assert_allclose(collapse(ours)[0, 0].numpy(), cv_collapse(cv_pyramid(image, 4)), atol=1e-6)


def test_its_depth_is_the_training_free_methods_depth():
    for shape in [(1, 1), (16, 40), (31, 31), (32, 500), (480, 640), (3000, 4000), (40000, 40000)]:
        assert pyramid_depth(shape) == pyramid_levels(shape)


def test_an_untrained_model_is_the_energy_vif_rule(rng):
    ir, vis = _scene(rng, 120, 150, 2.0), _scene(rng, 120, 150, 4.0) * 0.6 + 0.2
    fused = BlendVIF(BlendVIFConfig())(_tensor(ir), _tensor(vis))[0, 0].detach().numpy()
    np.testing.assert_allclose(fused, energy_vif([ir, vis]), atol=1e-5)


def test_whatever_its_weights_it_only_blends_the_sources(rng):
    torch.manual_seed(0)
    model = BlendVIF(BlendVIFConfig(width=8))
    for head in (model.detail_head, model.base_head):
        torch.nn.init.normal_(head.out.weight, std=1.0)  # far from the rule it starts at
    frame = _scene(rng, 70, 90, 2.0)
    same = model(_tensor(frame), _tensor(frame))[0, 0].detach().numpy()
    np.testing.assert_allclose(same, frame, atol=1e-5)  # w x + (1 - w) x = x at every level
    other = _scene(rng, 70, 90, 5.0) * 2
    with torch.no_grad():
        a, b, weights = model.weights(_tensor(frame), _tensor(other))
        fused = model(_tensor(frame), _tensor(other))[0, 0].numpy()
    assert len(weights) == len(a) == len(b) and all(0 <= float(w.min()) and float(w.max()) <= 1 for w in weights)
    assert np.abs(fused - energy_vif([frame, other])).max() > 0.01  # the heads did change the rule


def test_it_fuses_through_the_model_interface_and_refuses_a_stack(rng):
    model = BlendVIF(BlendVIFConfig())
    frames = torch.from_numpy(np.stack([_scene(rng, 50, 61, 2.0), _scene(rng, 50, 61, 3.0)]))[None, :, None]
    assert fuse_padded(model, frames, FuseOptions(task="vif")).image.shape == (1, 1, 50, 61)
    with pytest.raises(ValueError, match="one infrared and one visible"):
        model.fuse(frames.repeat(1, 2, 1, 1, 1)[:, :3], FuseOptions(task="vif"))


def test_a_symmetric_model_swaps_the_weights_when_the_frames_are_swapped(rng):
    torch.manual_seed(1)
    ir, vis = _tensor(_scene(rng, 66, 80, 2.0)), _tensor(_scene(rng, 66, 80, 4.0) * 0.7 + 0.1)
    for symmetric in (True, False):
        model = BlendVIF(BlendVIFConfig(width=8, symmetric=symmetric))
        for head in (model.detail_head, model.base_head):
            torch.nn.init.normal_(head.out.weight, std=1.0)
            torch.nn.init.normal_(head.out.bias, std=1.0)  # a sensor prior, if the heads can hold one
        with torch.no_grad():
            forward, backward = model(ir, vis), model(vis, ir)
            gap = float((forward - backward).abs().max())
        if symmetric:
            assert gap < 1e-5  # fusing (ir, vis) and (vis, ir) is one image
        else:
            assert gap > 1e-3  # the plain heads can prefer one sensor
