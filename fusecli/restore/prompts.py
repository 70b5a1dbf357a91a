"""What a text request asks to be fixed: the one place where fusecli reads a prompt's words.

The all-in-one models' text encoder reads the whole sentence; these patterns pick out the
degradations whose classical restoration, colour handling or gate evidence depends on being
named ("remove the haze and the noise").
"""

from __future__ import annotations

import re
from pathlib import Path

from fusecli.errors import FusecliError

# Words that name a degradation in a request ("remove the haze and the noise"), for the
# degradations whose classical restoration the all-in-one model's base can use. Checked against
# every sentence and clause of fusecli.degrade.prompts (tests): "stripe noise" / "compression
# noise" are not Gaussian noise, and "recover the contrast" is a dehazing phrase.
PROMPT_PATTERNS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "gaussian_noise": r"\b(noisy|denois\w*|grain\w*|speckle\w*)\b|(?<!stripe )(?<!compression )\bnoise\b",
        "jpeg": r"\b(jpe?g|compress\w*|block\w*)\b",
        "ir_stripes": r"\b(stripe\w*|destripe\w*|striping|banding)\b|\bline artifacts\b",
        "haze": r"\b(haz\w*|dehaz\w*|fog\w*|defog\w*|mist\w*)\b",
        "low_contrast": r"(?<!recover the )\bcontrast\b|\b(washed out|faded|dull|flat)\b",
        "downsample": r"\b(resolution|upscal\w*|super-resolv\w*|pixelated|downsampled|lost details)\b",
    }.items()
}


def degradations_in_prompt(prompt: str | None) -> list[str]:
    """The degradations of :data:`PROMPT_PATTERNS` that a text request mentions ([] for None)."""
    if not prompt:
        return []
    return [name for name, pattern in PROMPT_PATTERNS.items() if pattern.search(prompt)]


# Requests to brighten an under-exposed scene (every low-exposure sentence and clause of
# fusecli.degrade.prompts; a rain request's "brighten the scene" is not one). Kept apart from
# PROMPT_PATTERNS, which are what the models' gates read: the base has no restoration for it.
BRIGHTEN_PATTERN = re.compile(
    r"\b(under-?expos\w*|too dark|too dim|dark image|dark regions|low[- ]light|low exposure|lack\w* light|lighten|"
    r"lift the (dark|shadows)|illumination|(increase|correct) the exposure|normal brightness|bring up the brightness|"
    r"make it brighter|brighten (it|this|the dark))\b",
    re.IGNORECASE,
)


def tone_requests(prompt: str | None) -> list[str]:
    """Which of low exposure and haze ``prompt`` asks to undo: the requests that change a scene's
    tones, whose colours the fusion has to follow (:func:`fusecli.imaging.color.tone_gain`)."""
    if not prompt:
        return []
    return [name for name, pattern in (("low_exposure", BRIGHTEN_PATTERN), ("haze", PROMPT_PATTERNS["haze"])) if pattern.search(prompt)]


MAX_PROMPT_BYTES = 4096  # a request is a sentence or two; anything longer is not a prompt file


def read_prompt_file(path: Path) -> str | None:
    """The prompt in a text file (``fusecli degrade`` writes one per scene), stripped; None for an
    empty file. A file that is not UTF-8 text, or is far longer than a request, is refused by name."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FusecliError(f"{path}: cannot read the prompt file ({exc.strerror or exc})") from None
    if len(data) > MAX_PROMPT_BYTES:
        raise FusecliError(f"{path}: {len(data):,} bytes is not a prompt (at most {MAX_PROMPT_BYTES:,})")
    try:
        text = data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise FusecliError(f"{path}: the prompt file is not UTF-8 text") from None
    if "\0" in text:
        raise FusecliError(f"{path}: the prompt file is not text")
    return text or None
