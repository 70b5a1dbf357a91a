"""The benchmark scripts in bench/ load against the library as it is (their data is not needed)."""

from __future__ import annotations

import runpy

import numpy as np
import pytest
import torch

from conftest import REPO

SCRIPTS = sorted((REPO / "bench").glob("*.py"))
assert len(SCRIPTS) > 10, "bench/ scripts not found"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_bench_script_loads(path, monkeypatch):
    """Every name a script imports from fusecli exists (run without ``__main__``: nothing is measured)."""
    monkeypatch.syspath_prepend(str(path.parent))
    namespace = runpy.run_path(str(path), run_name="bench_check")
    assert callable(namespace.get("main")) or path.stem == "data_root", f"{path.name} has no main()"



def test_the_quality_protocol_passes_no_copy_and_no_learned_tie(monkeypatch):
    """The decision rule of bench/quality_protocol.py: a row that copies a source, or a learned
    model that only ties the training-free method, is never the default."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    protocol = runpy.run_path(str(REPO / "bench" / "quality_protocol.py"), run_name="bench_check")
    vif = protocol["TASKS"]["vif"]

    def row(qabf, qcv, min_ssim, vif_=0.8):
        return {"mean": {"Qabf": qabf, "Qcv": qcv, "min SSIM": min_ssim, "VIF": vif_}}

    results = {
        "infrared alone": row(0.39, 2166, 0.30), "visible alone": row(0.65, 735, 0.30),
        "average": row(0.40, 595, 0.55), "best single frame": row(0.73, 567, 0.30),
        "pyramid-vif": row(0.71, 553, 0.50), "moefusion-vif": row(0.71, 553, 0.50, vif_=0.9),
        "moefusion-vif-full": row(0.65, 735, 0.30),  # a copy of the visible frame
    }
    assert protocol["passes"](vif, results) == ["pyramid-vif"]
    results["moefusion-vif"] = row(0.72, 540, 0.52, vif_=0.9)
    assert protocol["passes"](vif, results) == ["moefusion-vif", "pyramid-vif"]
    mff = protocol["TASKS"]["mff"]  # MFF: the best single frame counts, and Qcb decides
    rows = {name: {"mean": {"Qabf": 0.6, "Qcb": 0.8, "Qcv": 30.0}} for name in ("near frame alone", "far frame alone", "average")}
    rows["best single frame"] = {"mean": {"Qabf": 0.67, "Qcb": 0.825, "Qcv": 29.0}}
    rows["focus-fusion"] = {"mean": {"Qabf": 0.74, "Qcb": 0.82, "Qcv": 28.0}}
    assert protocol["passes"](mff, rows) == []


def test_the_degraded_protocol_counts_only_clear_wins(monkeypatch):
    """bench/degraded_protocol.py: the prompted model must beat every baseline (a tie with
    restoration + fusion is no win), the ceiling is not a baseline, and a no-prompt output below
    the plain default by more than 8-bit round-off is flagged."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    protocol = runpy.run_path(str(REPO / "bench" / "degraded_protocol.py"), run_name="bench_check")

    def row(qabf, qcb, vif, ssim):
        return {"Qabf": qabf, "Qcb": qcb, "VIF": vif, "min SSIM": ssim}

    table = {"noise": {
        "default": row(0.37, 0.44, 0.29, 0.14), "restore + default": row(0.45, 0.39, 0.45, 0.47),
        "mmaif-reg": row(0.40, 0.40, 0.39, 0.37), "mmaif-reg +prompt": row(0.47, 0.43, 0.45, 0.49),
        "network +prompt": row(0.41, 0.44, 0.35, 0.24), "clean (ceiling)": row(0.69, 0.48, 0.87, 0.50)}}
    verdict = protocol["verdicts"]("vif", table)["noise"]
    assert verdict["prompt wins"] == ["Qabf", "min SSIM"]  # Qcb below the default, VIF only tied
    assert not verdict["most"]
    assert verdict["no prompt worse than default on"] == ["Qcb"]
    assert verdict["network alone above default on"] == ["Qabf", "VIF", "min SSIM"]
    table["noise"]["mmaif-reg +prompt"]["VIF"] = 0.46
    assert protocol["verdicts"]("vif", table)["noise"]["most"]


def test_the_degraded_protocol_judges_the_weights_file_it_is_given(monkeypatch, tmp_path):
    """``--model PATH``: the all-in-one rows come from that file (its own classical base), so a
    candidate is judged by the same protocol as the shipped model before it replaces it."""
    from fusecli.catalog import MMAIF_REG
    from fusecli.models.weights import build, save_weights

    monkeypatch.syspath_prepend(str(REPO / "bench"))
    protocol = runpy.run_path(str(REPO / "bench" / "degraded_protocol.py"), run_name="bench_check")
    torch.manual_seed(0)
    path = save_weights(build("mmaif", {**MMAIF_REG, "base": {**MMAIF_REG["base"], "vif": "energy-vif"}}), tmp_path / "candidate.safetensors")
    assert protocol["base_method"]("vif", str(path)) == "energy-vif" != protocol["base_method"]("vif")
    rng = np.random.default_rng(0)
    clean = [rng.random((40, 48), dtype=np.float32) for _ in range(2)]
    case, task = protocol["Case"]("scene", clean), "vif"
    made = protocol["degraded"](case, task, 0, "n=2", {"n": 2})
    rows = protocol["outputs"](case, task, made, None, tmp_path, str(path))
    inputs = [np.asarray(f, np.float32) for f in made.degraded]
    expected = protocol["network"](inputs, task, None, model=str(path))
    np.testing.assert_array_equal(rows["mmaif-reg"], expected)
    assert not np.array_equal(rows["mmaif-reg"], protocol["network"](inputs, task, None))


def test_the_synthetic_bracket_straddles_its_photo(monkeypatch):
    """The MEF truth set's shots: one darker and one brighter than the photo, clipped where a
    camera clips, so no shot is the truth."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    protocol = runpy.run_path(str(REPO / "bench" / "degraded_protocol.py"), run_name="bench_check")
    photo = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (8, 1))
    dark, bright = protocol["synthetic_bracket"](photo)
    assert dark.dtype == bright.dtype == np.float32
    assert np.all(dark <= photo + 1e-6) and np.all(bright >= photo - 1e-6)
    assert dark.mean() < photo.mean() - 0.05 and bright.mean() > photo.mean() + 0.05
    assert bright[:, -20:].min() == 1.0 and dark[:, -1].max() < 0.7  # highlights clip only when brighter


def test_the_held_out_paraphrases_are_wording_the_generator_never_writes(monkeypatch):
    """bench/prompt_response.py's paraphrases test free-form language: each has words outside the
    prompt generator's vocabulary, and each degradation family has one."""
    from fusecli.degrade.pipeline import available_ops
    from fusecli.degrade.prompts import CLAUSES, SENTENCES, prompt_vocabulary, tokenize

    monkeypatch.syspath_prepend(str(REPO / "bench"))
    bench = runpy.run_path(str(REPO / "bench" / "prompt_response.py"), run_name="bench_check")
    paraphrases = bench["PARAPHRASES"]
    assert set(paraphrases) == set(available_ops("vif"))
    written = {line for group in (SENTENCES, CLAUSES) for lines in group.values() for line in lines}
    vocabulary = set(prompt_vocabulary())
    for op, text in paraphrases.items():
        assert text not in written
        assert len(set(tokenize(text)) - vocabulary) >= 2, op
        assert bench["WRONG"][op] != op
    assert bench["two_requests"]("gaussian_noise").count(",") >= 1
    from fusecli.degrade.paraphrases import COMPLAINTS, REQUESTS  # the wording the text encoder learns

    phrases = [p for table in (COMPLAINTS, REQUESTS) for lines in table.values() for p in lines]
    assert not [(text, p) for text in paraphrases.values() for p in phrases if p.lower() in text.lower()]


def test_on_a_defocus_pair_qabf_points_at_the_truth_and_min_ssim_at_the_average(monkeypatch):
    """bench/source_targets.py scores a truth against the trivial fusions with the training's
    source-metric losses: for two complementary defocused shots of a textured image, 1 - Qabf
    is lower for the sharp truth than for their average, and 1 - min SSIM the other way round:
    a source term can point at the truth on one task and away from it on another."""
    import cv2

    from fusecli.train.synthetic_focus import defocus_pair

    monkeypatch.syspath_prepend(str(REPO / "bench"))
    script = runpy.run_path(str(REPO / "bench" / "source_targets.py"), run_name="bench_check")
    rng = np.random.default_rng(0)
    photo = cv2.GaussianBlur(rng.random((96, 128)).astype(np.float32), (0, 0), 1.5)
    photo = (photo - photo.min()) / (photo.max() - photo.min())
    near, far, _ = defocus_pair(photo, np.random.default_rng([7, 1]))
    scored = script["score"]([near, far], photo)
    assert set(scored) == {"truth", "average", "source 1", "source 2"}
    assert scored["truth"]["qabf"] < min(scored[other]["qabf"] for other in ("average", "source 1", "source 2"))
    assert scored["average"]["min_ssim"] < scored["truth"]["min_ssim"]  # measured: 0.225 against 0.356
