from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def smooth_image(rng: np.random.Generator, h: int, w: int, channels: int | None = None) -> np.ndarray:
    """A float32 test image with structure (not just noise), values in [0, 1]."""
    import cv2

    shape = (h, w) if channels is None else (h, w, channels)
    noise = rng.random(shape).astype(np.float32)
    img = cv2.GaussianBlur(noise, (0, 0), 2.0)
    img = (img - img.min()) / max(float(img.max() - img.min()), 1e-6)
    return img.astype(np.float32)


def staged(model, frames, options):
    """``model.fuse`` after its classical stage, as the pipeline runs it (frames already a multiple of its size)."""
    from fusecli.restore.stage import prepare

    return model.fuse(frames, prepare(model, frames, options))
