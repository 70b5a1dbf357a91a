"""The colours of a restoration by an all-in-one model: the examples degraded, fused with the
request that names the degradation, against the same model on the clean examples.

Why: the models fuse luminance and take chroma from their inputs, and low contrast, low exposure
and haze squeeze chroma about neutral as they squeeze the tones. ``fusecli fuse`` stretches the
inputs' chroma by the contrast restoration's exact gain (``fusecli.restore.chroma_gain``) and, on
MEF / MFF, by the output's local gain over the plain fusion: of brightness for a request to brighten
(``fusecli.imaging.color.brightness_gain``), of contrast for one to dehaze (``fusecli.imaging.color.tone_gain``; on VIF by its median over the visible frame's
luminance). Noise requests smooth the inputs' chroma noise along
the fused luminance's edges (``fusecli.imaging.color.denoise_chroma``). "as stored" is the same
run with all three off. Columns: mean chroma (distance of Cb, Cr
from neutral), chroma error (mean |Cb, Cr difference| against the clean examples' fusion: what a
colour step changes, which RGB PSNR, ruled by the luminance, barely shows) and RGB PSNR.

    python bench/restoration_colour.py            # ~10 s on 2 CPU cores
    python bench/restoration_colour.py --real 6   # 6 real scenes per task (means), ~1 min
"""

from __future__ import annotations

import argparse
from pathlib import Path
from contextlib import ExitStack, contextmanager
from unittest import mock

import numpy as np

import fusecli.fusion as fusing
from fusecli.imaging.color import rgb_to_ycbcr
from fusecli.degrade.ops import DEGRADATIONS, apply
from fusecli.degrade.prompts import SENTENCES
from fusecli.imaging import read_image
from data_root import DATA_ROOT

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CASES = {
    "mef": ["mef/coffee_under.jpg", "mef/coffee_normal.jpg", "mef/coffee_over.jpg"],
    "mff": ["mff/motorcycle_near.jpg", "mff/motorcycle_far.jpg"],
    "vif": ["vif/astronaut_ir.png", "vif/astronaut_vis.jpg"],
}
# degradation -> (fixed parameters or None for a heavy draw, the request)
SETTINGS = {
    "low_contrast": ({"contrast": 0.5}, "increase the contrast"),
    "low_exposure": ({"brightness": 0.4}, SENTENCES["low_exposure"][0]),
    "haze": (None, SENTENCES["haze"][0]),
    "gaussian_noise": (None, "remove the noise"),
    "gaussian_blur": (None, "deblur the image"),
}
DARK_HAZE = "haze, then low exposure (0.5)"


def colour(image: np.ndarray) -> float:
    """Mean distance of Cb, Cr from neutral."""
    return float(np.abs(rgb_to_ycbcr(image)[..., 1:] - 0.5).mean())


def chroma_error(image: np.ndarray, reference: np.ndarray) -> float:
    """Mean absolute difference of Cb, Cr."""
    return float(np.abs(rgb_to_ycbcr(image)[..., 1:] - rgb_to_ycbcr(reference)[..., 1:]).mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / max(float(np.mean((a - b) ** 2)), 1e-14)))


def real_scenes(count: int) -> dict[str, list[list[Path]]]:
    """``count`` colour scenes per task from ``$FUSECLI_DATA`` (Ma-MEF brackets, MFI-WHU pairs,
    RoadScene pairs), in name order."""
    data = DATA_ROOT
    brackets = [sorted(p for p in d.iterdir() if p.suffix.lower() in (".png", ".jpg")) for d in sorted((data / "mef/Ma-MEF").iterdir()) if d.is_dir()]
    focus = [[a, data / "mff/MFI-WHU/B" / a.name] for a in sorted((data / "mff/MFI-WHU/A").iterdir())]
    pairs = [[data / "vif/RoadScene/ir" / v.name, v] for v in sorted((data / "vif/RoadScene/vi").iterdir())]
    return {"mef": brackets[:count], "mff": focus[:count], "vif": pairs[:count]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mmaif-reg")
    parser.add_argument("--real", type=int, default=0, help="N real scenes per task from $FUSECLI_DATA instead of the examples; prints means")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    scenes = real_scenes(args.real) if args.real else {task: [[EXAMPLES / name for name in names]] for task, names in CASES.items()}
    print("| degradation | task | clean fusion: chroma | as stored: chroma / error / RGB PSNR | now: chroma / error / RGB PSNR |\n|---|---|---|---|---|")
    for op, (params, prompt) in SETTINGS.items():
        for task, paths in scenes.items():
            rows = np.array([score(op, params, prompt, task, scene, args.model, rng) for scene in paths]).mean(0)
            print(f"| {op} | {task} | {rows[0]:.4f} | {rows[1]:.4f} / {rows[2]:.4f} / {rows[3]:.2f} dB | {rows[4]:.4f} / {rows[5]:.4f} / {rows[6]:.2f} dB |")
    print("\n| brightening requests on MEF / MFF: chroma error by | MEF | MFF |\n|---|---|---|")
    for op, prompt in (("low_exposure", SETTINGS["low_exposure"][1]), (DARK_HAZE, "brighten the dark image and remove the haze")):
        errors = {task: [gain_choice(op, prompt, task, scene, args.model) for scene in scenes[task]] for task in ("mef", "mff")}
        for gain in ("brightness", "contrast"):
            mef, mff = (np.mean([e[gain] for e in errors[task]]) for task in ("mef", "mff"))
            print(f"| {op}, {gain} gain | {mef:.4f} | {mff:.4f} |")
    print()
    for request, (op, switch) in {"brighten it": ("low_exposure", "tone_requests"), "remove the noise": ("gaussian_noise", "degradations_in_prompt")}.items():
        print(f"640x480 3-shot bracket, \"{request}\": {{:.3f}} s with its colour step, {{:.3f}} s without (best of 5)".format(*cost(args.model, SETTINGS[op][1], switch)))


def cost(model: str, prompt: str, switch: str, repeat: int = 5) -> tuple[float, float]:
    """Seconds (best of ``repeat``) of a 640x480 3-shot bracket fused with ``prompt``, with and
    without the colour step that ``fusecli.fusion``'s ``switch`` turns on."""
    import time

    import cv2

    frames = [cv2.resize(read_image(EXAMPLES / name)[0], (640, 480)) for name in CASES["mef"]]

    def best() -> float:
        fusing.fuse(frames, task="mef", model=model, prompt=prompt)  # warm: model loaded
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fusing.fuse(frames, task="mef", model=model, prompt=prompt)
            times.append(time.perf_counter() - start)
        return min(times)

    with_colour = best()
    with patched(switch, lambda prompt: []):
        return with_colour, best()


def gain_choice(op: str, prompt: str, task: str, paths, model: str) -> dict[str, float]:
    """Chroma error against the clean fusion with every brightening / dehazing request's colour
    gain forced to each kind (``fusecli.fusion.colour.tone_colour_gain`` picks brightness for a request to
    brighten only, contrast otherwise). ``op``: low exposure 0.4, or ``DARK_HAZE``."""
    from fusecli.imaging.color import brightness_gain, tone_gain

    rng = np.random.default_rng(0)
    frames = [read_image(path)[0] for path in paths]
    if op == DARK_HAZE:
        haze = DEGRADATIONS.get("haze").sample_params(rng, "heavy")
        degraded = [apply("low_exposure", apply("haze", f, rng, haze), rng, {"brightness": 0.5}) for f in frames]
    else:
        degraded = [apply(op, f, rng, SETTINGS[op][0]) for f in frames]
    clean = fusing.fuse(frames, task=task, model=model).image
    errors = {}
    for gain, forced in {"brightness": brightness_gain, "contrast": tone_gain}.items():
        with patched("tone_colour_gain", lambda requests, y, reference: forced(y, reference)):
            errors[gain] = chroma_error(fusing.fuse(degraded, task=task, model=model, prompt=prompt).image, clean)
    return errors


def score(op, params, prompt, task, paths, model, rng) -> list[float]:
    """Chroma of the clean fusion; chroma, chroma error and RGB PSNR of the degraded scene's, as stored and now."""
    frames = [read_image(path)[0] for path in paths]
    drawn = params or DEGRADATIONS.get(op).sample_params(rng, "heavy")
    degraded = [f if task == "vif" and k == 0 else apply(op, f, rng, drawn) for k, f in enumerate(frames)]  # VIF: the visible frame
    clean = fusing.fuse(frames, task=task, model=model).image
    now = fusing.fuse(degraded, task=task, model=model, prompt=prompt).image
    with (
        patched("chroma_gain", lambda stats: 1.0),
        patched("tone_requests", lambda prompt: []),
        patched("degradations_in_prompt", lambda prompt: []),
    ):
        stored = fusing.fuse(degraded, task=task, model=model, prompt=prompt).image
    return [colour(clean), colour(stored), chroma_error(stored, clean), psnr(stored, clean), colour(now), chroma_error(now, clean), psnr(now, clean)]


@contextmanager
def patched(name: str, value):
    """``name`` replaced by ``value`` in the fusion modules that use it (the learned tiles and the colour step)."""
    import fusecli.fusion.colour as colouring
    import fusecli.fusion.learned as learned

    with ExitStack() as stack:
        for module in (learned, colouring):
            if hasattr(module, name):
                stack.enter_context(mock.patch.object(module, name, value))
        yield


if __name__ == "__main__":
    main()
