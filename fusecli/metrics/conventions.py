"""Scoring conventions: the standard definitions and presets that reproduce public toolboxes.

Published fusion tables disagree because their evaluators differ (log base of MI, SSIM window
and data range, PSNR peak, 0..1 vs 0..255 data, VIF vs VIFF…; see ``shared/METRICS.md``).
A :class:`Convention` pins every such choice; ``--preset NAME`` picks one and
``--explain NAME`` prints how it differs from the standard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fusecli.errors import UnknownNameError


@dataclass(frozen=True)
class Convention:
    name: str
    title: str
    gray: str = "bt601"  # bt601 (float luma), round601 (luma rounded), matlab (rgb2gray on uint8), matlab_double (rgb2gray on double)
    per_channel: bool = False  # VIFB: colour fused images scored per RGB channel and averaged
    first_channel: bool = False  # MEFB: gray sources + RGB fused -> the fused image's first channel
    en_binning: str = "round"
    sd_arithmetic: str = "double"  # double | uint8 (Tang: MATLAB's saturating integer arithmetic)
    sf_denominator: str = "pairs"
    sf_scale: float = 1.0
    ag_denominator: str = "mn"
    mi_base: float = 2.0
    mi_stretch: bool = False
    mi_merge_top: bool = False
    ssim: str = "gaussian"  # gaussian | skimage_uniform_dr2 | mef
    ms_ssim: str = "wang"  # wang | mef
    mef_ssim_multiscale: bool = False  # MEFB prints the multi-scale MEF-SSIM as "MEF_SSIM"
    psnr: str = "standard"  # standard | max_f | tang | vifb
    mse_scale: float = 1.0
    rmse: str = "standard"  # standard | vifb
    qabf_scale: float = 1.0
    nabf_scale: float = 1.0
    nabf_weak_weight: float = 0.001
    vif: str = "sheikh"  # sheikh | sheikh_uint8 (Tang: first scale's products saturate) | han (MEFB's "VIF" is Han's VIFF)
    qcb_im2double: bool = False  # MEFB's Qcb divides uint8 pixels by 255 before normalize1
    luminance_metrics: tuple[str, ...] = ()  # scored once on the gray conversion, never per channel
    side_by_side_metrics: tuple[str, ...] = ()  # VIFB: a colour fused image's channels side by side, as one gray image
    first_channel_luma_metrics: tuple[str, ...] = ()  # MEFB's AG: rgb2gray (not rounded) where others take channel 1
    unreproduced: tuple[tuple[str, str], ...] = ()  # (metric, why): the toolbox's column this preset cannot give
    differences: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)


_EDGE_FMI = (
    "the toolbox's FMI uses MATLAB's edge() (Sobel, automatic threshold, thinning) as its feature, "
    "which only MATLAB computes; fusecli's FMI is the pixel FMI, a different number"
)

STANDARD = Convention(
    name="standard",
    title="fusecli's default: the documented definitions",
    differences=(
        ("gray", "BT.601 luma (0.299, 0.587, 0.114), not rounded, 0..255", ""),
        ("EN", "bits, 256 bins of round(F)", ""),
        ("SF", "means over M(N−1) and (M−1)N differences, 0..255", ""),
        ("AG", "MATLAB gradient, mean over MN", ""),
        ("MI", "bits, Σ over sources, no stretching", ""),
        ("SSIM", "Σ over sources; 11×11 Gaussian σ=1.5, L=255, 'valid'", ""),
        ("MS-SSIM", "Σ over sources; Wang 2003, 5 scales", ""),
        ("PSNR", "10·log10(255²/MSE), MSE averaged over sources", ""),
        ("VIF", "Sheikh–Bovik pixel VIF σn²=2, Σ over sources", ""),
        ("Nabf", "Kumar: 0..255, w=g^1.5 above Td=2, else 0.001", ""),
        ("Qabf", "0..255 (scale-free apart from the equal-gradient quirk)", ""),
    ),
)

PRESETS: dict[str, Convention] = {
    "standard": STANDARD,
    "cddfuse": Convention(
        name="cddfuse",
        title="CDDFuse utils/Evaluator.py (copied by DDFM, EMMA, FILM, Diff-IF…)",
        gray="round601",
        mi_base=math.e,
        ssim="skimage_uniform_dr2",
        psnr="max_f",
        differences=(
            ("gray", "cv2 BGR2GRAY then np.round", "BT.601, not rounded"),
            ("MI", "nats (sklearn mutual_info_score)", "bits"),
            ("SSIM", "skimage defaults: 7×7 uniform window, sample covariance, data_range=2 (skimage 0.19) → near structure-only", "11×11 Gaussian, L=255"),
            ("PSNR", "peak = max(F)", "peak = 255"),
            ("VIF", "same Sheikh–Bovik VIF (called VIFF in CDDFuse)", "same"),
            ("fused images", "CDDFuse's test_IVF.py min-max stretches its own outputs before saving (outside the evaluator)", "no stretching"),
        ),
    ),
    "vifb": Convention(
        name="vifb",
        title="VIFB MATLAB benchmark (xingchenzhang/VIFB)",
        gray="matlab",
        per_channel=True,
        en_binning="floor",
        sf_denominator="mn",
        ag_denominator="m1n1",
        mi_base=math.e,
        mi_stretch=True,
        psnr="vifb",
        rmse="vifb",
        qabf_scale=255.0,
        side_by_side_metrics=("SF",),
        differences=(
            ("colour", "RGB fused images scored per channel (against the gray IR and each visible channel), averaged", "luminance"),
            ("SF of colour", "the three channels side by side as one M×3N image (VIFB's [m,n] = size(F) folds them into columns)", "luminance"),
            ("EN", "bins of floor(F)", "bins of round(F)"),
            ("SF", "both sums divided by MN", "means over the differences"),
            ("AG", "sum divided by (M−1)(N−1)", "mean over MN"),
            ("MI", "nats, every image min-max stretched to 0..255 first", "bits, no stretching"),
            ("PSNR", "VIFB's mse() = √SSE/(MN): depends on image size", "10·log10(255²/MSE)"),
            ("RMSE", "(√SSE_A + √SSE_B)/(2MN) (not a true RMSE)", "mean over sources of √MSE"),
            ("SD", "reported as 'Variance' but is the standard deviation", "same"),
            ("Qabf", "on 255·(0..255) data (255*im2double of doubles): only the equal-gradient quirk sees it", "0..255"),
        ),
    ),
    "mefb": Convention(
        name="mefb",
        title="MEFB MATLAB benchmark (xingchenzhang/MEFB)",
        gray="matlab",
        per_channel=True,
        first_channel=True,
        en_binning="floor",
        sf_denominator="mn",
        ag_denominator="m1n1",
        mi_base=math.e,
        mi_stretch=True,
        mef_ssim_multiscale=True,
        psnr="vifb",
        rmse="vifb",
        vif="han",
        qabf_scale=255.0,
        qcb_im2double=True,
        unreproduced=(("FMI", _EDGE_FMI),),
        luminance_metrics=("MEF-SSIM", "MEF-MS-SSIM"),
        first_channel_luma_metrics=("AG",),
        differences=(
            ("colour", "per channel like VIFB; gray sources + RGB fused → the fused image's first (R) channel (AG: its rgb2gray, not rounded)", "luminance"),
            ("MEF-SSIM of colour", "rgb2gray (rounded) of every frame, then MEF-SSIM", "luminance"),
            ("Qcb", "normalize1 after im2double (pixels / 255): other roundings of exact halves", "normalize1 on 0..255"),
            ("VIF", "Han et al. 2013 VIFF (a single number)", "Sheikh–Bovik VIF summed over sources"),
            ("MEF-SSIM", "MEFB reports the multi-scale version (use MEF-MS-SSIM) under this name", "single scale"),
            ("NMI", "Hossny NMI after normalize1 (same as standard)", "same"),
            ("EN / SF / AG / MI / PSNR", "as in the vifb preset, but SF of colour per channel (not side by side)", "standard"),
        ),
    ),
    "tang": Convention(
        name="tang",
        title="Linfeng Tang's MATLAB suite (SeAFusion/PIAFusion tables; CDDFuse's Python is a port)",
        gray="matlab",
        sf_scale=1 / 255,
        sd_arithmetic="uint8",
        unreproduced=(("FMI", _EDGE_FMI),),
        vif="sheikh_uint8",
        ag_denominator="m1n1",
        mi_merge_top=True,
        ssim="mef",
        ms_ssim="mef",
        psnr="tang",
        mse_scale=1 / 255,
        qabf_scale=1 / 255,
        nabf_scale=1 / 255,
        differences=(
            ("gray", "MATLAB rgb2gray on uint8 (rounded)", "BT.601, not rounded"),
            ("SF", "on im2double (0..1) data: 255× smaller", "0..255"),
            ("SD", "SD_evaluation on uint8 pixels: MATLAB saturates F − μ at 0 and its square at 255 (not a standard deviation)", "standard deviation"),
            ("VIF", "vifp_mscale on uint8 pixels: the first scale's ref.*ref, dist.*dist, ref.*dist saturate at 255 (CDDFuse's port works on doubles)", "on doubles"),
            ("MSE", "on 0..1 data", "0..255"),
            ("PSNR", "20·log10(255/√MSE) with MSE on 0..1: standard + 48.13 dB", "10·log10(255²/MSE)"),
            ("MI", "bits; Hab.m adds 1 to uint8 data, merging gray levels 254 and 255", "bits"),
            ("AG", "sum divided by (M−1)(N−1)", "mean over MN"),
            ("SSIM", "the 'SSIM' column is MEF-SSIM (Ma) of [A, B] vs F", "Wang SSIM summed over sources"),
            ("MS-SSIM", "the 'MS_SSIM' column is MEF-MS-SSIM (3 levels)", "Wang MS-SSIM"),
            ("Qabf", "on 0..1 data", "0..255"),
            ("Nabf", "on 0..1 data: every gradient < Td=2, so all weights are 0.001 (unweighted Nabf)", "weighted"),
        ),
    ),
}


def get_preset(name: str) -> Convention:
    key = name.lower()
    if key not in PRESETS:
        raise UnknownNameError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[key]
