"""The metric table: name -> how to compute it, what it needs, and which direction is better.

Names are the ones fusion papers print (``EN``, ``MI``, ``Qabf``…). Each entry calls a pure
function from ``functional``, ``gradient``, ``mef_ssim`` or ``fmi`` with the choices of a
:class:`~fusecli.metrics.conventions.Convention`.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from fusecli.registry import Registry
from fusecli.metrics import fmi as _fmi
from fusecli.metrics import functional as fn
from fusecli.metrics import gradient as gr
from fusecli.metrics import mef_ssim as ms
from fusecli.metrics import phase as _phase
from fusecli.metrics import similarity as sim
from fusecli.metrics import brisque as _brisque
from fusecli.metrics import niqe as _niqe
from fusecli.metrics import piqe as _piqe
from fusecli.metrics.conventions import Convention


@dataclass(frozen=True)
class Inputs:
    """Gray float64 images on 0..255 (after the convention's colour handling); learned metrics
    get the fused image as it is (``fused_color``, 0..1, gray or RGB) and their weight files."""

    fused: np.ndarray
    sources: Sequence[np.ndarray] = ()
    reference: np.ndarray | None = None
    fused_color: np.ndarray | None = None
    weights: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    needs: str  # "fused" (source-free), "sources", "reference"
    higher_better: bool
    compute: Callable[[Inputs, Convention], float]
    summary: str
    learned: str | None = None  # module of a learned metric: scored once on the colour image, needs weights

    @property
    def direction(self) -> str:
        return "↑" if self.higher_better else "↓"


METRICS: Registry[MetricSpec] = Registry("metric")


def _add(name: str, needs: str, higher: bool, summary: str, aliases: tuple[str, ...] = ()):
    def decorate(compute: Callable[[Inputs, Convention], float]):
        METRICS.register(name, MetricSpec(name, needs, higher, compute, summary), aliases=aliases)
        return compute

    return decorate


@_add("EN", "fused", True, "entropy of the fused image (bits)", aliases=("entropy",))
def _en(x: Inputs, c: Convention) -> float:
    return fn.entropy(x.fused, c.en_binning)


@_add("SD", "fused", True, "standard deviation (contrast)", aliases=("std",))
def _sd(x: Inputs, c: Convention) -> float:
    return fn.standard_deviation(x.fused, c.sd_arithmetic)


@_add("SF", "fused", True, "spatial frequency (detail)")
def _sf(x: Inputs, c: Convention) -> float:
    return fn.spatial_frequency(x.fused * c.sf_scale, c.sf_denominator)


@_add("AG", "fused", True, "average gradient (sharpness)")
def _ag(x: Inputs, c: Convention) -> float:
    return fn.average_gradient(x.fused, c.ag_denominator)


@_add("EI", "fused", True, "edge intensity: mean Sobel gradient magnitude")
def _ei(x: Inputs, c: Convention) -> float:
    return fn.edge_intensity(x.fused)


@_add("MI", "sources", True, "mutual information with the sources, summed")
def _mi(x: Inputs, c: Convention) -> float:
    return fn.mutual_information(x.fused, x.sources, c.mi_base, c.mi_stretch, c.mi_merge_top)


@_add("NMI", "sources", True, "normalised mutual information (Hossny), summed")
def _nmi(x: Inputs, c: Convention) -> float:
    return fn.normalized_mutual_information(x.fused, x.sources)


@_add("FMI", "sources", True, "feature (pixel) mutual information, 3×3 windows", aliases=("fmi_pixel",))
def _fmi_pixel(x: Inputs, c: Convention) -> float:
    return _fmi.fmi(x.fused, x.sources, "none")


@_add("TE", "sources", True, "Tsallis mutual information (Cvejic, q = 1.85), summed")
def _te(x: Inputs, c: Convention) -> float:
    return fn.tsallis_entropy(x.fused, x.sources)


@_add("Qncie", "sources", True, "nonlinear correlation information entropy (Wang)", aliases=("ncie",))
def _qncie(x: Inputs, c: Convention) -> float:
    return fn.ncie(x.fused, x.sources)


@_add("CE", "sources", False, "cross entropy of histograms (VIFB)")
def _ce(x: Inputs, c: Convention) -> float:
    return fn.cross_entropy(x.fused, x.sources)


@_add("VIF", "sources", True, "visual information fidelity (Sheikh–Bovik), summed")
def _vif(x: Inputs, c: Convention) -> float:
    return fn.viff(x.fused, x.sources) if c.vif == "han" else fn.vif(x.fused, x.sources, uint8=c.vif == "sheikh_uint8")


@_add("VIFF", "sources", True, "VIF for fusion (Han et al. 2013)")
def _viff(x: Inputs, c: Convention) -> float:
    return fn.viff(x.fused, x.sources)


@_add("SCD", "sources", True, "sum of the correlations of differences")
def _scd(x: Inputs, c: Convention) -> float:
    return fn.scd(x.fused, x.sources)


@_add("CC", "sources", True, "correlation coefficient, mean over sources")
def _cc(x: Inputs, c: Convention) -> float:
    return fn.correlation_coefficient(x.fused, x.sources)


@_add("PSNR", "sources", True, "peak signal-to-noise ratio against the sources (dB)")
def _psnr(x: Inputs, c: Convention) -> float:
    return fn.psnr(x.fused, x.sources, c.psnr)


@_add("MSE", "sources", False, "mean squared error against the sources")
def _mse(x: Inputs, c: Convention) -> float:
    return fn.mse(x.fused, x.sources, c.mse_scale)


@_add("RMSE", "sources", False, "root mean squared error against the sources")
def _rmse(x: Inputs, c: Convention) -> float:
    if c.rmse == "vifb":
        return fn.rmse_vifb(x.fused, x.sources)
    return float(np.mean([math.sqrt(fn.mse(x.fused, [s])) for s in x.sources]))


@_add("Qabf", "sources", True, "edge information preservation (Xydeas–Petrović)", aliases=("qab/f",))
def _qabf(x: Inputs, c: Convention) -> float:
    return gr.qabf(x.fused, x.sources, c.qabf_scale)


@_add("Nabf", "sources", False, "fusion artefacts (Shreyamsha Kumar)")
def _nabf(x: Inputs, c: Convention) -> float:
    return gr.nabf(x.fused, x.sources, c.nabf_scale, c.nabf_weak_weight)


@_add("Qcv", "sources", False, "Chen–Varshney perceptual distortion")
def _qcv(x: Inputs, c: Convention) -> float:
    return gr.qcv(x.fused, x.sources)


@_add("Qcb", "sources", True, "Chen–Blum perceptual contrast preservation")
def _qcb(x: Inputs, c: Convention) -> float:
    return gr.qcb(x.fused, x.sources, c.qcb_im2double)


@_add("Qy", "sources", True, "Yang's SSIM-based fusion quality (two sources)")
def _qy(x: Inputs, c: Convention) -> float:
    return sim.qy(x.fused, x.sources)


@_add("Qc", "sources", True, "Cvejic's SSIM-based fusion quality (two sources)")
def _qc(x: Inputs, c: Convention) -> float:
    return sim.qc(x.fused, x.sources)


@_add("Qw", "sources", True, "Piella's weighted fusion quality on edge images (two sources)")
def _qw(x: Inputs, c: Convention) -> float:
    return sim.qw(x.fused, x.sources)


@_add("Qp", "sources", True, "phase-congruency feature preservation (Zhao; two sources)")
def _qp(x: Inputs, c: Convention) -> float:
    return _phase.qp(x.fused, x.sources)


@_add("SSIM", "sources", True, "structural similarity, summed over sources")
def _ssim(x: Inputs, c: Convention) -> float:
    if c.ssim == "mef":
        return ms.mef_ssim(x.fused, x.sources)
    if c.ssim == "skimage_uniform_dr2":
        return fn.ssim(x.fused, x.sources, data_range=2.0, variant="skimage_uniform")
    return fn.ssim(x.fused, x.sources)


@_add("MS-SSIM", "sources", True, "multi-scale SSIM, summed over sources", aliases=("ms_ssim", "msssim"))
def _ms_ssim(x: Inputs, c: Convention) -> float:
    if c.ms_ssim == "mef":
        return ms.mef_ms_ssim(x.fused, x.sources)
    return fn.ms_ssim(x.fused, x.sources)


@_add("MEF-SSIM", "sources", True, "MEF-SSIM (Ma et al. 2015), single scale", aliases=("mef_ssim",))
def _mef_ssim(x: Inputs, c: Convention) -> float:
    if c.mef_ssim_multiscale:
        return ms.mef_ms_ssim(x.fused, x.sources)
    return ms.mef_ssim(x.fused, x.sources)


@_add("MEF-MS-SSIM", "sources", True, "MEF-SSIM, multi-scale (3 levels)", aliases=("mef_ms_ssim",))
def _mef_ms_ssim(x: Inputs, c: Convention) -> float:
    return ms.mef_ms_ssim(x.fused, x.sources)


@_add("PSNR-ref", "reference", True, "PSNR against the reference image (dB)")
def _psnr_ref(x: Inputs, c: Convention) -> float:
    return fn.psnr_reference(x.fused, x.reference)


@_add("SSIM-ref", "reference", True, "SSIM against the reference image")
def _ssim_ref(x: Inputs, c: Convention) -> float:
    return fn.ssim_reference(x.fused, x.reference)


@_add("MS-SSIM-ref", "reference", True, "MS-SSIM against the reference image")
def _ms_ssim_ref(x: Inputs, c: Convention) -> float:
    return fn.ms_ssim_reference(x.fused, x.reference)


@_add("MAE", "reference", False, "mean absolute error against the reference image")
def _mae(x: Inputs, c: Convention) -> float:
    return fn.mae(x.fused, x.reference)


TASK_DEFAULTS: dict[str, tuple[str, ...]] = {
    "vif": ("EN", "SD", "SF", "AG", "MI", "SCD", "VIF", "Qabf", "SSIM", "CC", "PSNR", "Qcv", "Qcb", "Nabf"),
    "mef": ("MEF-SSIM", "MEF-MS-SSIM", "Qabf", "MI", "NMI", "VIFF", "Qcb", "EN", "SD", "SF", "AG"),
    "mff": ("Qabf", "Qcb", "SSIM", "MI", "NMI", "FMI", "Qcv", "SF", "AG", "EN", "SD"),
}


def default_metrics(task: str | None, n_sources: int) -> tuple[str, ...]:
    """The standard set for ``task`` (VIF for two sources, MEF for stacks when not given)."""
    if task is None:
        task = "vif" if n_sources <= 2 else "mef"
    return TASK_DEFAULTS[task]


@_add("NIQE", "fused", False, "natural image quality evaluator (Mittal 2013), no reference; needs fusecli[niqe]")
def _niqe_metric(x: Inputs, c: Convention) -> float:
    return _niqe.niqe(x.fused)


@_add("BRISQUE", "fused", False, "blind/referenceless spatial quality evaluator (Mittal 2012), no reference; needs fusecli[brisque]")
def _brisque_metric(x: Inputs, c: Convention) -> float:
    return _brisque.brisque(x.fused)


@_add("PIQE", "fused", False, "perception-based image quality evaluator (Venkatanath 2015), 0..100, no reference")
def _piqe_metric(x: Inputs, c: Convention) -> float:
    return _piqe.piqe(x.fused)



def _add_learned(name: str, module: str, summary: str, aliases: tuple[str, ...] = ()) -> None:
    """A no-reference metric with pretrained weights; ``module`` (imported on first use: torch)
    has ``FILE_NAMES``, ``WHERE``, ``load(path)`` and ``score(image, path)``."""

    def compute(x: Inputs, c: Convention) -> float:
        from fusecli.metrics.checkpoints import resolve_weights

        impl = importlib.import_module(module)
        return impl.score(x.fused_color, resolve_weights(name, x.weights, impl.FILE_NAMES, impl.WHERE))

    METRICS.register(name, MetricSpec(name, "fused", True, compute, summary, learned=module), aliases=aliases)


_add_learned("MUSIQ", "fusecli.metrics.musiq",
             "multi-scale image quality transformer (Ke 2021), no reference; needs --weights MUSIQ=PATH")
_add_learned("CLIP-IQA", "fusecli.metrics.clip_iqa",
             "CLIP antonym-prompt quality (Wang 2023), 0..1, no reference; needs --weights CLIP-IQA=PATH",
             aliases=("CLIPIQA", "CLIPQA"))
