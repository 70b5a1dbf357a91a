"""Free-form requests for teaching the text encoder: held-out phrases stay held out, and one
sentence can carry several requests."""

from __future__ import annotations

import numpy as np
import pytest

from fusecli.degrade.paraphrases import COMPLAINTS, REQUESTS, SPLITS, paraphrase, paraphrase_vocabulary, split_of
from fusecli.degrade.pipeline import available_ops
from fusecli.degrade.prompts import tokenize


def test_every_degradation_has_phrases_in_every_split():
    assert set(COMPLAINTS) == set(REQUESTS) == set(available_ops("vif"))
    for table in (COMPLAINTS, REQUESTS):
        for family, lines in table.items():
            assert len(set(lines)) == len(lines), family
            assert {split_of(i) for i in range(len(lines))} == set(SPLITS), family


def test_a_split_uses_its_own_phrases_only():
    rng = np.random.default_rng(0)
    for family in COMPLAINTS:
        held_out = [p for table in (COMPLAINTS, REQUESTS) for i, p in enumerate(table[family]) if split_of(i) != "train"]
        for _ in range(30):
            text = paraphrase([family], rng, "train").lower()
            assert not [p for p in held_out if p.lower() in text], (family, text)
    test_words = set(paraphrase_vocabulary("test")) - set(paraphrase_vocabulary("train"))
    assert len(test_words) > 20  # held-out phrases bring words the training never saw


def test_several_requests_in_one_sentence():
    rng = np.random.default_rng(1)
    for _ in range(20):
        families = list(rng.choice(available_ops("mef"), size=3, replace=False))
        text = paraphrase(families, rng, "val").lower()
        for family in families:  # each family is named by one of its phrases
            assert any(p.lower() in text for table in (COMPLAINTS, REQUESTS) for p in table[family]), (family, text)
        assert set(tokenize(text)) <= set(paraphrase_vocabulary("val"))


def test_bad_requests_are_refused():
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match="split"):
        paraphrase(["haze"], rng, "holdout")
    with pytest.raises(ValueError, match="no paraphrases for fog"):
        paraphrase(["fog"], rng)
    with pytest.raises(ValueError, match="empty"):
        paraphrase([], rng)
