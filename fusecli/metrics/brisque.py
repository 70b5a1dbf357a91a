"""BRISQUE (Mittal, Moorthy & Bovik 2012, "No-reference image quality assessment in the spatial domain").

BRISQUE ↓ regresses a quality score (roughly 0 = pristine .. 100 = very distorted) from 36
natural-scene statistics with a support-vector regressor trained on human opinion scores:

- MSCN coefficients ``(I - mu) / (sigma + C)`` with a 7x7 Gaussian (sigma 7/6);
- per scale, an AGGD fit of the coefficients (alpha, variance) and of the products of
  neighbours in 4 directions (alpha, mean, left variance, right variance): 18 features;
- two scales (the second a bicubic half-size image); features min-max scaled to [-1, 1];
- an epsilon-SVR with an RBF kernel: ``sum_i coef_i exp(-gamma |x - sv_i|^2) - rho``.

The regressor is not re-trained here: it is read from the data files of the ``brisque``
package (``pip install 'fusecli[brisque]'``; Apache-2.0, LIVE-trained libsvm model and its
feature ranges), or from a folder given by ``$FUSECLI_BRISQUE_MODEL`` holding ``svm.txt``
(libsvm text format) and ``normalize.pickle`` or ``normalize.json`` (``min_``, ``max_``).
That model was fitted on that package's features, so these follow its conventions (zero
padded filtering, ``C = 1/255`` on 0..1 intensities, ``sigma = sqrt(|mu^2 - E[I^2]|)``, the
AGGD shape found by root finding from 0.2, OpenCV bicubic half scale): scores equal
``brisque.BRISQUE().score`` on gray images. The SVR is evaluated with numpy (no libsvm).
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from scipy import optimize
from scipy.special import gamma as gamma_fn

from fusecli.metrics.model_files import MissingModelError, find_model_file


@dataclass(frozen=True)
class SVRModel:
    """An RBF epsilon-SVR and the feature ranges it was trained with."""

    support_vectors: np.ndarray  # (n, d)
    coefficients: np.ndarray  # (n,)
    gamma: float
    rho: float
    feature_min: np.ndarray  # (d,)
    feature_max: np.ndarray  # (d,)

    def predict(self, features: np.ndarray) -> float:
        """Score of one raw feature vector ``(d,)``: scale to [-1, 1], then the RBF expansion."""
        scaled = -1 + 2 * (features - self.feature_min) / (self.feature_max - self.feature_min)
        distances = ((self.support_vectors - scaled) ** 2).sum(1)
        return float(self.coefficients @ np.exp(-self.gamma * distances) - self.rho)


def read_libsvm_model(path: Path) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``(support_vectors, coefficients, gamma, rho)`` of a libsvm RBF regression model file."""
    header: dict[str, str] = {}
    rows: list[tuple[float, dict[int, float]]] = []
    with open(path, encoding="ascii") as f:
        for line in f:
            if line.strip() == "SV":
                break
            key, _, value = line.strip().partition(" ")
            header[key] = value
        for line in f:
            parts = line.split()
            if parts:
                rows.append((float(parts[0]), {int(k): float(v) for k, v in (p.split(":") for p in parts[1:])}))
    if header.get("kernel_type") != "rbf" or "svr" not in header.get("svm_type", ""):
        raise MissingModelError(f"{path}: expected an RBF support-vector regression model, got {header.get('svm_type')}/{header.get('kernel_type')}")
    dims = max(max(sv, default=0) for _, sv in rows)
    vectors = np.zeros((len(rows), dims))
    for i, (_, sv) in enumerate(rows):  # sparse format: absent entries are 0
        for k, v in sv.items():
            vectors[i, k - 1] = v
    return vectors, np.array([c for c, _ in rows]), float(header["gamma"]), float(header["rho"])


class _NoObjects(pickle.Unpickler):
    """Unpickle plain data only (dicts, lists, numbers): a data file must not run code."""

    def find_class(self, module: str, name: str):  # noqa: D401
        raise MissingModelError(f"refusing to load {module}.{name} from a BRISQUE range file (plain data only)")


def read_ranges(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Feature ``(min, max)`` from ``normalize.json`` or a plain-data ``normalize.pickle``."""
    if path.suffix == ".json":
        data = json.loads(path.read_text())
    else:
        with open(path, "rb") as f:
            data = _NoObjects(f).load()
    return np.asarray(data["min_"], np.float64), np.asarray(data["max_"], np.float64)


def _model_dir() -> Path:
    return find_model_file(
        "FUSECLI_BRISQUE_MODEL",
        "brisque",
        "models",
        "BRISQUE needs its trained regressor: install it with pip install 'fusecli[brisque]' "
        "(the brisque package ships it), or point $FUSECLI_BRISQUE_MODEL to a folder with svm.txt "
        "(libsvm) and normalize.json or normalize.pickle (min_, max_)",
    )


@lru_cache(maxsize=2)
def _load_model(folder: str) -> SVRModel:
    root = Path(folder)
    svm = root / "svm.txt"
    ranges = next((root / n for n in ("normalize.json", "normalize.pickle") if (root / n).is_file()), None)
    if not svm.is_file() or ranges is None:
        raise MissingModelError(f"{root}: BRISQUE needs svm.txt and normalize.json/normalize.pickle there")
    vectors, coefficients, gamma, rho = read_libsvm_model(svm)
    low, high = read_ranges(ranges)
    if low.shape != (36,) or high.shape != (36,) or vectors.shape[1] > 36:
        raise MissingModelError(f"{root}: expected 36 features, got ranges {low.shape} and vectors {vectors.shape}")
    vectors = np.pad(vectors, ((0, 0), (0, 36 - vectors.shape[1])))
    return SVRModel(vectors, coefficients, gamma, rho, low, high)


def brisque_model() -> SVRModel:
    return _load_model(str(_model_dir()))


def mscn(image: np.ndarray) -> np.ndarray:
    """``(I - mu) / (sigma + 1/255)`` of a 0..1 image (7x7 Gaussian, sigma 7/6, zero padding)."""
    g = cv2.getGaussianKernel(7, 7 / 6, ktype=cv2.CV_64F)
    image = np.asarray(image, dtype=np.float64)  # OpenCV filters float64 only into float64
    mu = cv2.sepFilter2D(image, cv2.CV_64F, g, g, borderType=cv2.BORDER_CONSTANT)
    second = cv2.sepFilter2D(image * image, cv2.CV_64F, g, g, borderType=cv2.BORDER_CONSTANT)
    return (image - mu) / (np.sqrt(np.abs(mu * mu - second)) + 1 / 255)


def _phi(alpha: float) -> float:
    return gamma_fn(2 / alpha) ** 2 / (gamma_fn(1 / alpha) * gamma_fn(3 / alpha))


def aggd_fit(values: np.ndarray) -> tuple[float, float, float, float]:
    """Asymmetric generalised Gaussian by moment matching: ``(alpha, mean, var_left, var_right)``."""
    x = values.ravel()
    left, right = x[x < 0], x[x >= 0]
    var_left, var_right = float(np.mean(left * left)), float(np.mean(right * right))
    gamma_hat = np.sqrt(var_left) / np.sqrt(var_right)
    r_hat = np.mean(np.abs(x)) ** 2 / np.mean(x * x)
    target = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    alpha = float(optimize.root(lambda a: _phi(a[0]) - target, [0.2]).x[0])
    mean = (np.sqrt(var_right) - np.sqrt(var_left)) * np.sqrt(gamma_fn(1 / alpha) / gamma_fn(3 / alpha)) * gamma_fn(2 / alpha) / gamma_fn(1 / alpha)
    return alpha, float(mean), var_left, var_right


def scale_features(image: np.ndarray) -> list[float]:
    """The 18 features of one scale of a 0..1 gray image."""
    m = mscn(image)
    alpha, _, var_left, var_right = aggd_fit(m)
    features = [alpha, (var_left + var_right) / 2]
    for product in (m[:, :-1] * m[:, 1:], m[:-1, :] * m[1:, :], m[:-1, :-1] * m[1:, 1:], m[1:, :-1] * m[:-1, 1:]):
        features += aggd_fit(product)
    return features


def brisque_features(gray01: np.ndarray) -> np.ndarray:
    """``(36,)`` features of a 0..1 gray image: full and (bicubic) half scale."""
    image = np.asarray(gray01, np.float64)
    half = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_CUBIC)
    return np.array(scale_features(image) + scale_features(half))


def brisque(gray255: np.ndarray) -> float:
    """BRISQUE ↓ of a gray image on 0..255 (lower = better quality)."""
    image = np.asarray(gray255, np.float64)
    if min(image.shape) < 16:
        raise ValueError("BRISQUE needs images of at least 16x16 pixels")
    if np.ptp(image) == 0:
        raise ValueError("BRISQUE: the image is flat (no statistics to fit)")
    return brisque_model().predict(brisque_features(image / 255))
