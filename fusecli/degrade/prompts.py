"""Text prompts that say what to fix, like MMAIF's language guidance.

Each degradation has hand-written full instructions (used when it is the only one) and short
imperative clauses (used to compose 2-3 degradations into one natural sentence). VIF ops that
hit only one frame may name it ("in the infrared image"), and a prompt may mention the task.
Everything is drawn from a ``numpy.random.Generator``, so the same seed gives the same prompt.
:func:`prompt_vocabulary` lists every word the generator can emit, for the text encoder.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from fusecli.degrade.pipeline import AppliedOp

SENTENCES: dict[str, list[str]] = {
    "low_exposure": [
        "The image is underexposed, please brighten it.",
        "This shot is too dark; recover the details in the shadows.",
        "Increase the exposure of this dark image.",
        "The scene was captured in low light, make it brighter.",
        "Please fix the underexposure and lift the dark regions.",
        "Everything looks too dim here, restore normal brightness.",
        "Brighten this low-light image without losing detail.",
        "The picture is too dark to see much, correct the exposure.",
        "Enhance the illumination of this underexposed frame.",
        "This image lacks light; bring up the brightness.",
        "Correct the low exposure so the scene is clearly visible.",
        "The photo is dark and murky, please lighten it.",
    ],
    "gaussian_blur": [
        "The image is blurry, please sharpen it.",
        "Remove the blur and restore the fine details.",
        "This picture is out of focus; make it sharp again.",
        "Please deblur this image.",
        "The details are smeared by blur, recover the sharp edges.",
        "Fix the soft, blurred look of this image.",
        "Sharpen the blurry image and bring back the texture.",
        "This frame is defocused, please restore its sharpness.",
        "Get rid of the blur in this image.",
        "The edges are fuzzy; deblur the scene.",
        "Recover a crisp image from this blurred one.",
        "Reduce the blurriness so fine structures become visible.",
    ],
    "motion_blur": [
        "The camera moved during the shot, remove the motion blur.",
        "Please fix the motion blur in this image.",
        "This image is smeared by camera shake; make it sharp.",
        "Remove the streaky blur caused by motion.",
        "The picture suffers from motion blur, please deblur it.",
        "Undo the shake blur and restore crisp edges.",
        "Correct the directional blur from camera movement.",
        "Motion has blurred this frame, recover the details.",
        "Get rid of the motion smear in this image.",
        "The scene is blurred by movement; sharpen it.",
        "Please remove the camera shake from this photo.",
        "Restore a steady, sharp image from this motion-blurred one.",
    ],
    "gaussian_noise": [
        "The image is noisy, please denoise it.",
        "Remove the noise from this image.",
        "This picture is grainy; clean up the noise.",
        "Please reduce the sensor noise while keeping the details.",
        "There is a lot of noise here, make the image clean.",
        "Denoise this image and preserve the edges.",
        "Get rid of the grain in this photo.",
        "The frame is corrupted by random noise, please fix it.",
        "Suppress the noise so the scene looks smooth and clear.",
        "Clean this noisy image.",
        "The image has speckled noise; remove it.",
        "Please fix the noise in this picture.",
    ],
    "rain": [
        "Remove the rain streaks from this image.",
        "It is raining in this scene, please derain it.",
        "The image is covered with rain, clean it up.",
        "Please get rid of the rain and the dim, blurry look it causes.",
        "Rain streaks hide the scene; remove them.",
        "Derain this picture and restore its clarity.",
        "This photo was taken in the rain, remove the raindrops.",
        "Clear away the rain streaks and brighten the scene.",
        "The rainy weather degrades this image, please fix it.",
        "Remove the falling rain from this frame.",
        "Please restore this rainy image to a clear one.",
        "The scene is obscured by rain; clean the streaks out.",
    ],
    "haze": [
        "The image is hazy, please dehaze it.",
        "Remove the haze from this image.",
        "This scene is covered in fog; clear it up.",
        "Please remove the fog and restore the distant details.",
        "Haze washes out the far parts of the scene, fix it.",
        "Dehaze this picture and recover the contrast.",
        "The view is foggy, make it clear.",
        "Get rid of the mist in this image.",
        "The scene is obscured by haze, please restore visibility.",
        "Clear the fog so the background becomes visible.",
        "This photo suffers from haze; remove it.",
        "Please defog this image.",
    ],
    "snow": [
        "Remove the snow from this image.",
        "It is snowing in this scene, please clear the snowflakes.",
        "The image is covered with falling snow; clean it up.",
        "Please get rid of the snowflakes.",
        "Snow hides the details of the scene, remove it.",
        "Desnow this picture and restore the view.",
        "This photo was taken in a snowstorm; remove the snow.",
        "Clear away the snowflakes from this frame.",
        "The snowy weather degrades this image, please fix it.",
        "Remove the falling snow so the scene is clear.",
        "Please restore this snowy image to a clean one.",
        "White snow specks cover the image; remove them.",
    ],
    "jpeg": [
        "Remove the JPEG compression artifacts.",
        "This image is heavily compressed, please fix the blocky artifacts.",
        "Clean up the compression artifacts in this picture.",
        "Please remove the blocking and ringing from this JPEG.",
        "The image shows compression blocks; restore it.",
        "Fix the artifacts caused by JPEG compression.",
        "This picture has low quality compression, please improve it.",
        "Reduce the blocky compression noise.",
        "Please repair the compressed image.",
        "Get rid of the JPEG artifacts and restore smooth areas.",
        "The frame was saved with strong compression; remove the artifacts.",
        "Remove the blocks and halos left by compression.",
    ],
    "low_contrast": [
        "The image has low contrast, please enhance it.",
        "This picture looks flat and washed out; increase the contrast.",
        "Please improve the contrast of this image.",
        "Boost the contrast so the details stand out.",
        "The scene looks dull, restore its contrast.",
        "Fix the low contrast of this frame.",
        "Enhance the contrast of this faded image.",
        "This photo is washed out, please make it more vivid.",
        "Stretch the contrast to recover the details.",
        "The image is too flat; increase the dynamic range.",
        "Please correct the faded, low contrast look.",
        "Raise the contrast of this grey, dull picture.",
    ],
    "downsample": [
        "The image has low resolution, please upscale it.",
        "This picture is pixelated; restore the fine details.",
        "Please super-resolve this low resolution image.",
        "Increase the resolution of this image.",
        "The frame was downsampled, recover the lost details.",
        "Fix the low resolution and make the image sharp.",
        "This image looks coarse; restore its resolution.",
        "Please enhance the resolution of this picture.",
        "Recover a high resolution image from this small one.",
        "The details are lost to low resolution, bring them back.",
        "Upscale this image and restore the textures.",
        "The picture lacks resolution, please fix it.",
    ],
    "ir_stripes": [
        "The infrared frame has stripe noise, please clean it.",
        "Remove the stripe noise from the infrared image.",
        "The thermal image shows stripes; remove them.",
        "Please fix the striping in the infrared image.",
        "Destripe the infrared frame.",
        "The infrared image is corrupted by stripe artifacts, clean it up.",
        "Remove the fixed pattern stripes from the thermal frame.",
        "There are line artifacts in the infrared image; remove them.",
        "Please get rid of the stripes in the thermal image.",
        "The infrared sensor added stripe noise, please remove it.",
        "Clean the stripe pattern out of the infrared frame.",
        "Fix the banding stripes in the infrared image.",
    ],
}

CLAUSES: dict[str, list[str]] = {
    "low_exposure": ["brighten the dark image", "fix the underexposure", "increase the exposure", "correct the low light", "lift the shadows", "restore normal brightness"],
    "gaussian_blur": ["remove the blur", "sharpen the image", "deblur it", "restore the sharp details", "fix the blur", "recover the fine edges"],
    "motion_blur": ["remove the motion blur", "fix the camera shake", "undo the motion smear", "correct the motion blur", "deblur the motion", "remove the shake blur"],
    "gaussian_noise": ["remove the noise", "denoise it", "clean up the grain", "reduce the noise", "fix the noise", "suppress the noise"],
    "rain": ["remove the rain", "derain it", "clear the rain streaks", "get rid of the rain", "remove the rain streaks", "clean out the rain"],
    "haze": ["remove the haze", "dehaze it", "clear the fog", "get rid of the haze", "remove the fog", "restore the hazy background"],
    "snow": ["remove the snow", "clear the snowflakes", "get rid of the snow", "remove the falling snow", "desnow it", "clean out the snowflakes"],
    "jpeg": ["remove the JPEG artifacts", "fix the compression artifacts", "clean up the blocking", "remove the compression blocks", "repair the compression", "reduce the JPEG artifacts"],
    "low_contrast": ["enhance the contrast", "fix the low contrast", "boost the contrast", "increase the contrast", "restore the contrast", "correct the faded look"],
    "downsample": ["increase the resolution", "upscale it", "restore the resolution", "fix the low resolution", "super-resolve it", "recover the lost details"],
    "ir_stripes": ["remove the infrared stripes", "destripe the infrared frame", "clean the stripe noise", "fix the thermal striping", "remove the stripe noise", "remove the infrared banding"],
}

WHERE = {"ir": ["in the infrared image", "in the thermal frame", "in the infrared frame"], "vis": ["in the visible image", "in the visible frame", "in the RGB image"]}

TASK_PHRASES = {
    "vif": ["while fusing the infrared and visible images", "when you fuse the infrared and visible frames", "and fuse the thermal and visible images"],
    "mef": ["while fusing the exposures", "when you merge the exposure bracket", "and fuse the multi exposure images"],
    "mff": ["while fusing the focus stack", "when you merge the near and far focus images", "and fuse the multi focus images"],
}

PATTERNS_2 = ["Please {a} and {b}.", "{A}, then {b}.", "{A} and {b}, please.", "Could you {a} and also {b}?", "{A}; also {b}."]
PATTERNS_3 = ["Please {a}, {b} and {c}.", "{A}, {b}, and finally {c}.", "This image needs work: {a}, {b} and {c}.", "{A}, then {b}, then {c}."]


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _clause(op: "AppliedOp", rng: np.random.Generator, named: set[str]) -> str:
    """A short instruction; names the frame (once per prompt) when only one VIF frame is hit."""
    text = _pick(rng, CLAUSES[op.name])
    single = op.targets in (["ir"], ["vis"])
    if op.name != "ir_stripes" and single and op.targets[0] not in named and rng.random() < 0.7:
        place = _pick(rng, WHERE[op.targets[0]])
        # "dehaze it" + "in the visible image" reads badly: name the frame instead of "it".
        text = text[: -len(" it")] + " the " + place.split(" the ", 1)[1] if text.endswith(" it") else text + " " + place
        named.add(op.targets[0])
    return text


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def make_prompt(ops: Sequence["AppliedOp"], rng: np.random.Generator, task: str | None = None) -> str:
    """A natural instruction naming every degradation in ``ops`` (in their order)."""
    if not ops:
        return "Fuse the images." if task else "The image is clean."
    if len(ops) == 1:
        op = ops[0]
        if op.name != "ir_stripes" and op.targets in (["ir"], ["vis"]) and rng.random() < 0.5:
            text = _cap(_clause(op, rng, set())) + "."
        else:
            text = _pick(rng, SENTENCES[op.name])
    else:
        named: set[str] = set()
        clauses = [_clause(op, rng, named) for op in ops]
        pattern = _pick(rng, PATTERNS_2 if len(ops) == 2 else PATTERNS_3)
        keys = "abc"[: len(clauses)]
        values = {k: c for k, c in zip(keys, clauses)} | {k.upper(): _cap(c) for k, c in zip(keys, clauses)}
        text = pattern.format(**values)
    if task:
        phrase = _pick(rng, TASK_PHRASES[task])
        text = text.rstrip(".?") + " " + phrase + "."
    return text


def prompt_vocabulary() -> list[str]:
    """Every lower-case word the prompt generator can produce (for the text encoder)."""
    texts: list[str] = []
    for group in (SENTENCES, CLAUSES):
        for lines in group.values():
            texts += lines
    for group in (WHERE, TASK_PHRASES):
        for lines in group.values():
            texts += lines
    texts += [re.sub(r"\{\w\}", " ", p) for p in PATTERNS_2 + PATTERNS_3]
    texts += ["Fuse the images.", "The image is clean."]
    words = set()
    for text in texts:
        words.update(tokenize(text))
    return sorted(words)


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits; hyphenated words split)."""
    return re.findall(r"[a-z0-9]+", text.lower())
