"""Free-form requests, worded unlike :mod:`fusecli.degrade.prompts`' generator: how people
describe what is wrong with a picture and ask for it to be fixed.

The all-in-one model's text encoder learns these words from them
(:class:`fusecli.train.objectives.PromptWordsObjective`): a paraphrase of a request should land
where the generator's sentence for the same degradations lands. Every phrase list is split by
position (:func:`split_of`): "train" phrases teach the words, "val" phrases choose the checkpoint,
and "test" phrases are never seen in training, so :func:`paraphrase` with ``split="test"``
gives held-out wordings (words of their own included) to score the encoder with.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from fusecli.degrade.prompts import make_prompt, tokenize

# What is wrong, as a person would say it (a clause that reads after "the picture is" or alone).
COMPLAINTS: dict[str, list[str]] = {
    "low_exposure": [
        "it came out far too dark", "the shadows swallow everything", "I can barely make anything out in the dark",
        "the whole frame is nearly black", "it was shot at dusk and looks murky", "the exposure is way too low",
        "there was hardly any light", "everything is lost in darkness", "the scene is dim and muddy",
        "it looks like it was taken at night without a flash", "the picture is much too dark to read",
        "the lighting was poor and it shows",
    ],
    "low_contrast": [
        "everything looks grey and flat", "the colours are faded and weak", "the tones are all bunched together",
        "there is no depth between light and dark", "it looks dull and washed out", "blacks are grey and whites are grey",
        "the picture has no contrast to speak of", "the image looks foggy grey without any haze",
        "it is bland with no strong tones", "the range of tones is squashed", "it looks like a faded print",
        "nothing stands out from the background",
    ],
    "gaussian_blur": [
        "it is soft all over", "the whole picture is out of focus", "the details have gone fuzzy",
        "the edges are not crisp at all", "it looks like the lens was smeared", "text in it cannot be read because it is blurry",
        "everything is a bit hazy and unsharp", "the focus missed completely", "it looks like seen through frosted glass",
        "fine lines have melted together", "the shot is slightly defocused", "it lacks any sharpness",
    ],
    "motion_blur": [
        "the camera moved while I pressed the button", "everything is streaked in one direction",
        "my hands were shaking when I took it", "it was taken from a moving car and smeared",
        "the objects leave trails", "there are ghostly double edges from movement", "the shot shook",
        "the exposure was too long and it wobbled", "lines are dragged sideways", "it has shake in it",
        "the subject moved and left a smear", "it suffers from camera shake",
    ],
    "gaussian_noise": [
        "it is full of grain", "there are coloured speckles everywhere", "the sensor noise is terrible",
        "it looks sandy and rough", "there is fuzz over every flat area", "the high ISO made it noisy",
        "the dark areas crawl with dots", "it has a salt and pepper look", "the sky is full of specks",
        "it is peppered with random dots", "the shot is very grainy", "there is hiss all over the picture",
    ],
    "ir_stripes": [
        "the thermal picture has lines across it", "there is a striped pattern over the infrared image",
        "the heat image shows vertical bars", "the infrared sensor left streaks in columns",
        "the thermal camera adds banding", "regular stripes run down the infrared frame",
        "the infrared picture has column noise", "the thermal image is striped like a barcode",
        "fixed pattern lines cover the thermal frame", "there are bright and dark columns in the infrared",
        "the heat camera image is streaky", "the infrared has a comb of lines",
    ],
    "jpeg": [
        "it was compressed too hard", "there are little squares everywhere", "it was saved as a tiny file and looks blocky",
        "edges have ringing and mosquito noise", "the compression left eight by eight tiles",
        "it was sent through a messaging app and got crushed", "the quality slider was set to the minimum",
        "there are blocky artefacts in the sky", "it looks crunchy from compression", "it has been recompressed many times",
        "smooth areas show banding blocks", "the file was squeezed and it shows",
    ],
    "rain": [
        "it was raining hard", "there are streaks of rain over everything", "raindrops cover the view",
        "it is a wet stormy shot with falling water", "rain lines cut across the picture", "a shower was passing when I took it",
        "drizzle is in the way", "water is pouring down in front of the camera", "the storm left streaks all over",
        "it is rainy and streaky", "a heavy shower hides the scene", "wet weather spoils the shot",
    ],
    "snow": [
        "it was snowing", "white specks of snow fill the air", "a blizzard hides part of the view",
        "snowfall covers the picture", "there are white dots of falling snow", "it is a snowy shot full of flurries",
        "snow is drifting in front of the lens", "winter weather left white streaks", "the snowstorm is in the way",
        "snow crystals speckle the frame", "flurries block the scene", "it was taken in heavy snow",
    ],
    "haze": [
        "it is hazy and washed in white", "fog hides the distance", "the air is thick and murky",
        "a mist covers the far buildings", "everything far away fades into grey air", "pollution makes it hazy",
        "there is a veil of fog", "the scene looks smoky", "a layer of haze sits over everything",
        "visibility is poor because of fog", "it looks like a misty morning", "the background dissolves into haze",
    ],
    "downsample": [
        "it is low resolution", "it is small and pixelated", "it was enlarged from a small picture",
        "the resolution is too low for printing", "it looks blocky when zoomed in", "the pixels are huge",
        "it was taken at a tiny size", "fine details were lost when it was shrunk", "it is a blown up preview",
        "it looks soft from being upscaled", "the image is coarse and lacks detail", "it was downsized and scaled back up",
    ],
}

# What to do, as a person would ask it (an imperative clause in lower case).
REQUESTS: dict[str, list[str]] = {
    "low_exposure": [
        "brighten it up", "lift the shadows", "make it lighter", "bring the dark parts up", "boost the brightness",
        "raise the exposure", "make the night scene visible", "light it up", "pull detail out of the darkness",
        "make it less dark", "open up the shadows", "add some light",
    ],
    "low_contrast": [
        "add contrast", "make the darks darker and the lights lighter", "give it more pop", "stretch the tones",
        "make it less flat", "bring back the depth", "strengthen the tones", "make it more vivid",
        "deepen the blacks", "spread the tones out", "make it crisper in tone", "make things stand out",
    ],
    "gaussian_blur": [
        "sharpen it", "bring it into focus", "make the edges crisp", "recover the sharp detail", "unblur it",
        "make it sharper", "restore the focus", "get the details back", "clear up the softness", "refocus the image",
        "crisp it up", "make the text readable",
    ],
    "motion_blur": [
        "remove the shake", "stabilise the picture", "undo the streaking", "fix the movement smear",
        "take out the camera shake", "clean up the motion trails", "make the moving parts sharp", "remove the wobble",
        "straighten out the smear", "fix the shaky shot", "remove the drag", "correct the movement",
    ],
    "gaussian_noise": [
        "clean up the grain", "smooth out the speckles", "remove the fuzz", "get rid of the dots", "reduce the noise",
        "make it smooth", "take out the grain", "clear the specks", "clean it up", "tidy up the sensor noise",
        "make the flat areas clean", "remove the hiss",
    ],
    "ir_stripes": [
        "remove the lines from the thermal image", "get rid of the bars in the infrared", "clean the columns out of the heat image",
        "flatten the striping", "take out the banding in the thermal frame", "fix the column noise",
        "even out the stripes", "remove the streaks from the infrared", "correct the fixed pattern lines",
        "make the thermal image uniform", "erase the striped pattern", "smooth away the columns",
    ],
    "jpeg": [
        "remove the blocks", "fix the compression damage", "smooth out the squares", "undo the compression",
        "clean up the blocky artefacts", "repair the crushed quality", "restore the lost quality", "get rid of the tiles",
        "fix the mosquito noise", "make it look uncompressed", "remove the ringing", "clean the artefacts",
    ],
    "rain": [
        "remove the rain", "take out the raindrops", "clear the rain streaks", "make it look dry", "erase the drizzle",
        "get rid of the water streaks", "clean off the rain", "remove the falling water", "clear the storm",
        "wipe away the rain", "make the weather clear", "strip out the shower",
    ],
    "snow": [
        "remove the snow", "clear the snowflakes", "take out the flurries", "erase the snowfall", "get rid of the white specks",
        "clean off the snow", "make it look like it stopped snowing", "remove the blizzard", "wipe away the snow",
        "clear the falling snow", "strip out the snow", "take away the winter streaks",
    ],
    "haze": [
        "remove the fog", "clear the haze", "cut through the mist", "make the distance clear", "get rid of the murk",
        "lift the fog", "clear up the air", "remove the veil", "take out the smoke", "defog it",
        "make the far objects visible", "clear away the mist",
    ],
    "downsample": [
        "make it high resolution", "add back the fine detail", "enlarge it properly", "restore the full resolution",
        "make the pixels smaller", "sharpen the upscaled detail", "give it more detail", "increase the level of detail",
        "upsize it cleanly", "recover the lost resolution", "make it print ready", "fill in the fine detail",
    ],
}

# One request: {c} a complaint, {r} a request (capitalised: {C}, {R}).
FRAMES_1 = ["{C}, {r}.", "{C}. Can you {r}?", "{R}, {c}.", "{R} please.", "Could you {r}? {C}.", "{C}; please {r}.",
            "I need you to {r}.", "{C}.", "Please {r}, {c}.", "{C}, so {r}."]
# Several requests in one sentence: {rs} requests joined, {cs} complaints joined.
FRAMES_N = ["{CS}; {rs}.", "Please {rs}.", "{CS}, so {rs}.", "{RS}, {cs}.", "Could you {rs}? {CS}.", "{CS}."]
JOINS = [" and ", ", and also ", " and then ", ", plus "]
SPLITS = ("train", "val", "test")


def split_of(index: int) -> str:
    """The split of the phrase at ``index`` of its list: every fourth is held out for test, and
    every sixth (the rest of it) for validation."""
    return "test" if index % 4 == 3 else "val" if index % 6 == 5 else "train"


def _phrases(table: dict[str, list[str]], family: str, split: str) -> list[str]:
    return [p for i, p in enumerate(table[family]) if split_of(i) == split]


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _join(parts: list[str], rng: np.random.Generator) -> str:
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + _pick(rng, JOINS) + parts[-1]


def paraphrase(families: Sequence[str], rng: np.random.Generator, split: str = "train") -> str:
    """A free-form request to undo every degradation in ``families`` (1 or more, in their
    order), worded with the ``split``'s phrases."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    unknown = sorted(set(families) - set(REQUESTS))
    if unknown or not families:
        raise ValueError(f"no paraphrases for {', '.join(unknown) or 'an empty request'}")
    complaints = [_pick(rng, _phrases(COMPLAINTS, f, split)) for f in families]
    requests = [_pick(rng, _phrases(REQUESTS, f, split)) for f in families]
    if len(families) == 1:
        c, r = complaints[0], requests[0]
        return _pick(rng, FRAMES_1).format(c=c, r=r, C=_cap(c), R=_cap(r))
    cs, rs = _join(complaints, rng), _join(requests, rng)
    return _pick(rng, FRAMES_N).format(cs=cs, rs=rs, CS=_cap(cs), RS=_cap(rs))


def generator_prompt(families: Sequence[str], rng: np.random.Generator, task: str | None = None) -> str:
    """The prompt generator's sentence for the same request (:func:`fusecli.degrade.prompts.make_prompt`),
    for a paraphrase to be compared with: every frame degraded, infrared stripes on the infrared."""
    from fusecli.degrade.pipeline import AppliedOp  # the pipeline imports the prompt generator

    return make_prompt([AppliedOp(f, "heavy", {}, ["ir"] if f == "ir_stripes" else ["all"]) for f in families], rng, task)


def paraphrase_vocabulary(split: str = "train") -> list[str]:
    """Every word the ``split``'s paraphrases can contain."""
    texts = [p for table in (COMPLAINTS, REQUESTS) for family in table for p in _phrases(table, family, split)]
    texts += [re.sub(r"\{\w+\}", " ", frame) for frame in FRAMES_1 + FRAMES_N] + JOINS
    return sorted({word for text in texts for word in tokenize(text)})
