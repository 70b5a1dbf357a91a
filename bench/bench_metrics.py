"""Benchmark: the default VIF metric set on 640x480 pairs.

Targets (issue "fusecli metrics"): the full default VIF set (EN SD SF AG MI SCD VIF Qabf SSIM
CC PSNR Qcv Qcb Nabf) on one 640x480 pair in under 0.5 s on one core; a 100-pair folder with
``--jobs 2`` in under 40 s end to end through the CLI.

For comparison the same set is computed "the straightforward way", as common Python
evaluators do it (CDDFuse-style): ``scipy.signal.convolve2d`` for every filter, numpy FFTs,
``np.histogram2d``, Python loops over Qcv's blocks. Its values are printed beside ours.

Run: python bench/bench_metrics.py [--pairs 100]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from scipy.signal import convolve2d  # noqa: E402
from skimage.metrics import structural_similarity  # noqa: E402
from data_root import DATA_ROOT

ROADSCENE = DATA_ROOT / "vif" / "RoadScene"


# ----------------------------------------------------------------------------- straightforward baseline


def _gauss(n, s):
    ax = np.arange(n) - (n - 1) / 2
    g = np.exp(-(ax[:, None] ** 2 + ax[None] ** 2) / (2 * s * s))
    return g / g.sum()


def _f2(img, k, mode):
    return convolve2d(img, np.rot90(k, 2), mode=mode)


def naive_en(f):
    h, _ = np.histogram(f, bins=256, range=(0, 255))
    p = h[h > 0] / h.sum()
    return -(p * np.log2(p)).sum()


def naive_mi(a, f):
    j, _, _ = np.histogram2d(a.ravel(), f.ravel(), bins=256, range=[[0, 255], [0, 255]])
    p = j / j.sum()
    pa, pf = p.sum(1), p.sum(0)
    nz = p > 0
    return (p[nz] * np.log2(p[nz] / np.outer(pa, pf)[nz])).sum()


def naive_vif(ref, dist):
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        win = _gauss(n, n / 5)
        if scale > 1:
            ref = _f2(ref, win, "valid")[::2, ::2]
            dist = _f2(dist, win, "valid")[::2, ::2]
        mu1, mu2 = _f2(ref, win, "valid"), _f2(dist, win, "valid")
        s1 = np.maximum(_f2(ref * ref, win, "valid") - mu1**2, 0)
        s2 = np.maximum(_f2(dist * dist, win, "valid") - mu2**2, 0)
        s12 = _f2(ref * dist, win, "valid") - mu1 * mu2
        g = s12 / (s1 + 1e-10)
        sv = s2 - g * s12
        g[s1 < 1e-10] = 0
        sv[s1 < 1e-10] = s2[s1 < 1e-10]
        s1[s1 < 1e-10] = 0
        g[s2 < 1e-10] = 0
        sv[s2 < 1e-10] = 0
        sv[g < 0] = s2[g < 0]
        g[g < 0] = 0
        sv[sv <= 1e-10] = 1e-10
        num += np.log10(1 + g * g * s1 / (sv + 2)).sum()
        den += np.log10(1 + s1 / 2).sum()
    return num / den


SX = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
SY = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], float)


def _sobel(x):
    gx, gy = _f2(x, SX, "same"), _f2(x, SY, "same")
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(gx == 0, math.pi / 2, np.arctan(gy / gx))
    return np.sqrt(gx * gx + gy * gy), a


def naive_qabf(a, b, f):
    gf, af = _sobel(f)
    num = den = 0
    for x in (a, b):
        g, an = _sobel(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            G = np.where(g > gf, gf / g, np.where(g < gf, g / gf, gf))
        A = 1 - np.abs(an - af) / (math.pi / 2)
        q = 0.9994 / (1 + np.exp(-15 * (G - 0.5))) * 0.9879 / (1 + np.exp(-22 * (A - 0.8)))
        num += (q * g).sum()
        den += g.sum()
    return num / den


def naive_nabf(a, b, f):
    def grad(x):
        p = np.pad(x, 1, mode="reflect")
        gv, gh = convolve2d(p, np.rot90(SX, 2), "valid") / 8, convolve2d(p, -np.rot90(SY, 2), "valid") / 8
        with np.errstate(divide="ignore", invalid="ignore"):  # Kumar: atan(gv / gh), 0 where both are 0
            an = np.where((gv == 0) & (gh == 0), 0.0, np.arctan(gv / gh))
        return np.sqrt(gv * gv + gh * gh), an

    gf, af = grad(f)
    num = den = 0
    art = None
    for x in (a, b):
        g, an = grad(x)
        art = gf > g if art is None else art & (gf > g)
        with np.errstate(divide="ignore", invalid="ignore"):
            G = np.where((g == 0) | (gf == 0), 0.0, np.where(g > gf, gf / g, g / gf))
        A = np.abs(np.abs(an - af) - math.pi / 2) * 2 / math.pi
        q = np.sqrt(0.9999 / (1 + np.exp(-19 * (G - 0.5))) * 0.9995 / (1 + np.exp(-22 * (A - 0.5))))
        w = np.where(g >= 2, g**1.5, 0.001)
        num = num + (1 - q) * w
        den = den + w
    return (art * num).sum() / den.sum()


def _norm1(x):
    v = (x - x.min()) / (x.max() - x.min()) * 255
    return np.where(v - np.floor(v) >= 0.5, np.floor(v) + 1, np.floor(v))  # MATLAB's round (v >= 0)


def _freq(shape):
    ax = lambda n: (np.arange(n) - n // 2) * 2 / n  # noqa: E731
    return np.meshgrid(ax(shape[1]), ax(shape[0]))


def naive_qcv(a, b, f):
    a, b, f = _norm1(a), _norm1(b), _norm1(f)
    h, w = f.shape
    u, v = _freq(f.shape)
    r = np.sqrt((u * w / 8) ** 2 + (v * h / 8) ** 2)
    csf = 2.6 * (0.0192 + 0.144 * r) * np.exp(-((0.144 * r) ** 1.1))
    num = den = 0.0
    for x in (a, b):
        g, _ = _sobel(x)
        d = np.fft.ifft2(np.fft.ifftshift(np.fft.fftshift(np.fft.fft2(x - f)) * csf))
        for i in range(0, h, 16):
            for j in range(0, w, 16):
                lam = (g[i : i + 16, j : j + 16] ** 5).sum()
                blk = np.zeros((16, 16), complex)
                part = d[i : i + 16, j : j + 16]
                blk[: part.shape[0], : part.shape[1]] = part
                num += lam * (blk**2).mean().real
                den += lam
    return num / den


def naive_qcb(a, b, f):
    h, w = f.shape
    u, v = _freq(f.shape)
    r = np.sqrt((u * w / 30) ** 2 + (v * h / 30) ** 2)
    s = np.exp(-((r / 15.387) ** 2)) - 0.7622 * np.exp(-((r / 1.3456) ** 2))
    ax = np.arange(-15, 16)
    g1 = np.exp(-(ax[:, None] ** 2 + ax[None] ** 2) / 8) / (8 * math.pi)
    g2 = np.exp(-(ax[:, None] ** 2 + ax[None] ** 2) / 32) / (32 * math.pi)

    def cp(x):
        y = np.fft.ifft2(np.fft.ifftshift(np.fft.fftshift(np.fft.fft2(_norm1(x))) * s))
        c = np.abs(convolve2d(y, g1, "same") / convolve2d(y, g2, "same") - 1)
        return c**3 / (c**2 + 1e-4)

    ca, cb, cf = cp(a), cp(b), cp(f)
    qa = np.where(ca < cf, ca / cf, cf / ca)
    qb = np.where(cb < cf, cb / cf, cf / cb)
    la = ca * ca / (ca * ca + cb * cb)
    return np.mean(la * qa + (1 - la) * qb)


def naive_set(a, b, f):
    corr = lambda x, y: np.corrcoef(x.ravel(), y.ravel())[0, 1]  # noqa: E731
    gy, gx = np.gradient(f)
    mse = (np.mean((a - f) ** 2) + np.mean((b - f) ** 2)) / 2
    return {
        "EN": naive_en(f),
        "SD": f.std(),
        "SF": math.sqrt(np.mean(np.diff(f, axis=1) ** 2) + np.mean(np.diff(f, axis=0) ** 2)),
        "AG": np.mean(np.sqrt((gx**2 + gy**2) / 2)),
        "MI": naive_mi(a, f) + naive_mi(b, f),
        "SCD": corr(f - b, a) + corr(f - a, b),
        "VIF": naive_vif(a, f) + naive_vif(b, f),
        "Qabf": naive_qabf(a, b, f),
        "SSIM": sum(structural_similarity(x, f, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False) for x in (a, b)),
        "CC": (corr(a, f) + corr(b, f)) / 2,
        "PSNR": 10 * math.log10(255**2 / mse),
        "Qcv": naive_qcv(a, b, f),
        "Qcb": naive_qcb(a, b, f),
        "Nabf": naive_nabf(a, b, f),
    }


# ----------------------------------------------------------------------------- runs


def load_pair():
    if ROADSCENE.exists():
        name = sorted(p.name for p in (ROADSCENE / "ir").iterdir())[3]
        ir = cv2.resize(cv2.imread(str(ROADSCENE / "ir" / name), cv2.IMREAD_GRAYSCALE), (640, 480))
        vis = cv2.resize(cv2.imread(str(ROADSCENE / "vi" / name)), (640, 480))[:, :, ::-1]
        return ir, vis, "RoadScene pair resized to 640x480"
    from skimage import data

    vis = cv2.resize(data.astronaut(), (640, 480))
    ir = cv2.GaussianBlur(255 - cv2.cvtColor(vis, cv2.COLOR_RGB2GRAY), (0, 0), 2)
    return ir, vis, "scikit-image astronaut resized to 640x480"


def best_of(fn, repeat=5):
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=100)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    from fusecli.metrics import score_arrays
    from fusecli.metrics.table import TASK_DEFAULTS

    ir8, vis8, source = load_pair()
    ir, vis = ir8 / 255.0, vis8 / 255.0
    gray = vis @ np.array([0.299, 0.587, 0.114])
    fused = np.round(np.clip(0.5 * ir + 0.5 * gray, 0, 1) * 255) / 255  # a fused image to score, as stored in 8 bits
    ours_s, ours = best_of(lambda: score_arrays(fused, [ir, vis], TASK_DEFAULTS["vif"]))
    naive_s, naive = best_of(lambda: naive_set(ir * 255, gray * 255, fused * 255), repeat=2)
    print(f"inputs: {source}")
    print(f"{'metric':6s} {'fusecli':>12s} {'baseline':>12s}")
    for k in ours:
        print(f"{k:6s} {ours[k]:12.5f} {naive[k]:12.5f}")
    result = {"single_pair_seconds_1core": round(ours_s, 3), "baseline_seconds_1core": round(naive_s, 3),
              "speedup": round(naive_s / ours_s, 1)}

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for d in ("ir", "vis", "fused"):
            (root / d).mkdir()
        for i in range(args.pairs):
            shift = i % 7
            cv2.imwrite(str(root / "ir" / f"{i:04d}.png"), np.roll(ir8, shift, 1))
            cv2.imwrite(str(root / "vis" / f"{i:04d}.png"), np.roll(vis8, shift, 1)[:, :, ::-1])
            cv2.imwrite(str(root / "fused" / f"{i:04d}.png"), np.roll(np.round(fused * 255).astype(np.uint8), shift, 1))
        cmd = [sys.executable, "-m", "fusecli.cli.main", "-q", "metrics", "--fused", str(root / "fused"),
               "--sources", str(root / "ir"), str(root / "vis"), "--jobs", "2", "--json", str(root / "s.json")]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        result[f"folder_{args.pairs}_pairs_jobs2_seconds"] = round(time.perf_counter() - start, 1)
        result["items_scored"] = len(json.loads((root / "s.json").read_text())["items"])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
