"""Learned no-reference metrics (MUSIQ, CLIP-IQA): the whole path from a weights file to a score,
with tiny randomly initialised weights in each format the public checkpoints use, and the errors
users see when a file is missing or wrong. (The architectures were checked against pyiqa's
implementations with shared random weights: outputs agree to 1e-6; see the metrics issue.)"""

from __future__ import annotations

import gzip
import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from fusecli.cli.main import cli
from fusecli.imaging import write_image
from fusecli.metrics import clip_iqa, musiq
from fusecli.metrics.checkpoints import CheckpointError, load_state_dict
from fusecli.metrics.clip_tokenizer import ClipTokenizer
from fusecli.metrics.model_files import MissingModelError
from fusecli.metrics.score import prepare_learned_metrics, score_arrays

TINY_MUSIQ = musiq.MUSIQConfig(patch_size=8, stem_channels=32, hidden_size=32, mlp_dim=48, num_heads=2, num_layers=2,
                               grid_size=4, longer_side_lengths=[32, 48])
MERGES = ["o o", "g oo", "goo d</w>", "p h"]


def _image(seed: int, shape=(60, 100, 3)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 1, shape[1], dtype=np.float32)[None, :, None] * np.ones(shape, np.float32)
    return np.clip(base + rng.normal(0, 0.1, shape).astype(np.float32), 0, 1)


def _tiny_musiq(seed: int = 0, config: musiq.MUSIQConfig = TINY_MUSIQ) -> musiq.MUSIQ:
    torch.manual_seed(seed)
    model = musiq.MUSIQ(config).eval()
    with torch.no_grad():  # non-trivial norms, so a wrong parameter mapping would show
        for m in model.modules():
            if isinstance(m, (nn.GroupNorm, nn.LayerNorm)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    return model


def _write_vocab(path: Path) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(MERGES) + "\n")
    return path


def _tiny_clip(seed: int = 0) -> clip_iqa.CLIP:
    torch.manual_seed(seed)
    n_vocab = 512 + len(MERGES) + 2
    model = clip_iqa.CLIP(embed_dim=16, vision_layers=[1, 1, 1, 1], vision_width=8, context_length=16,
                          vocab_size=n_vocab, text_width=32, text_layers=1, resolution=64).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.running_var.uniform_(0.5, 2.0)
        model.logit_scale.fill_(np.log(100.0))
    return model


class _Holder(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _save_torchscript(state: dict, path: Path) -> Path:
    """A TorchScript archive holding ``state`` in fp16, the way OpenAI ships ``RN50.pt``."""
    root = _Holder()
    for key, value in state.items():
        *parents, leaf = key.split(".")
        module = root
        for name in parents:
            if not hasattr(module, name):
                module.add_module(name, _Holder())
            module = getattr(module, name)
        module.register_buffer(leaf, value.half() if value.is_floating_point() else value)
    with warnings.catch_warnings():  # TorchScript is deprecated for new files; it is how CLIP ships
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(root), str(path))
    return path


def _invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


# ----------------------------------------------------------------------------- MUSIQ


def test_multiscale_patches_follow_the_musiq_layout():
    image = torch.rand(1, 3, 60, 100)
    patches, positions, scales, mask = musiq.multiscale_patches(image, TINY_MUSIQ)
    # longer side 32 -> 19x32: 3x4 patches of 16; 48 -> 29x48: 4x6 of 36; original: 8x13 = 104
    assert patches.shape == (1, 16 + 36 + 104, 3, 8, 8)
    assert mask[0, :16].sum() == 12 and mask[0, 16:52].sum() == 24 and mask[0, 52:].all()
    assert scales[0, :16].eq(0).all() and scales[0, 16:52].eq(1).all() and scales[0, 52:].eq(2).all()
    # the first original-resolution patch is the top-left 8x8 block after TF "SAME" padding (2 rows on top)
    top_left = torch.nn.functional.pad(image, (2, 2, 2, 2))[0, :, :8, :8]
    assert torch.equal(patches[0, 52], top_left)
    assert positions.max() < TINY_MUSIQ.grid_size**2


def test_hashed_positions_spread_any_grid_over_the_embedding_grid():
    pos = musiq._hashed_positions(10, 3, 20).view(3, 20)
    assert pos[0, 0] == 0 and pos[2, 19] == 6 * 10 + 9  # rows 0,3,6 ; columns 0..9 twice each
    assert torch.equal(pos[1], pos[0] + 30) and (pos[0].diff() >= 0).all()


def test_musiq_safetensors_through_the_cli_is_deterministic(tmp_path):
    weights = tmp_path / "musiq-tiny.safetensors"
    musiq.save_musiq(_tiny_musiq(), weights)
    write_image(tmp_path / "a.png", _image(1))
    write_image(tmp_path / "b.png", _image(2)[::-1].copy())
    outputs = []
    for run, jobs in enumerate((1, 2)):
        out = tmp_path / f"scores{run}.json"
        result = _invoke("metrics", "--fused", tmp_path / "a.png", "--metrics", "MUSIQ", "--weights", f"MUSIQ={weights}",
                         "--json", out, "-j", jobs)
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(out.read_text())["items"][0]["metrics"]["MUSIQ"])
    assert outputs[0] == outputs[1] and np.isfinite(outputs[0])
    # the same number as the model itself gives on the written (8-bit) image
    from fusecli.imaging import as_float, read_image

    stored = as_float(read_image(tmp_path / "a.png")[0])
    model = musiq.load(weights)
    with torch.inference_mode():
        direct = float(model(torch.from_numpy(stored).permute(2, 0, 1)[None])[0])
    assert outputs[0] == pytest.approx(direct, abs=1e-5)
    other = score_arrays(as_float(read_image(tmp_path / "b.png")[0]), metrics=["MUSIQ"], weights={"MUSIQ": weights})
    assert other["MUSIQ"] != pytest.approx(outputs[0], abs=1e-6)  # the score depends on the image


def test_musiq_attention_in_query_chunks_equals_one_pass(monkeypatch):
    """Large photos are attended in query chunks (memory); the result must not change."""
    model = _tiny_musiq(2)
    x = torch.from_numpy(_image(3)).permute(2, 0, 1)[None]
    with torch.inference_mode():
        whole = model(x)
        monkeypatch.setattr(musiq, "QUERY_CHUNK", 7)
        chunked = model(x)
    assert torch.allclose(whole, chunked, atol=1e-6)


def test_musiq_reads_pyiqa_style_checkpoints_without_a_config(tmp_path):
    """A ``torch.save({"params": state})`` file as pyiqa publishes: the architecture is read off the
    shapes (heads = hidden / 64; three scales = 224, 384 and the original resolution)."""
    config = musiq.MUSIQConfig(patch_size=8, stem_channels=32, hidden_size=64, mlp_dim=48, num_heads=1, num_layers=1,
                               grid_size=4)
    model = _tiny_musiq(3, config)
    torch.save({"params": {f"module.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "musiq.pth")
    loaded = musiq.load(tmp_path / "musiq.pth")
    assert loaded.config == config
    image = _image(4, (40, 56, 3))
    with torch.inference_mode():
        direct = float(model(torch.from_numpy(image).permute(2, 0, 1)[None])[0])
    assert musiq.score(image, tmp_path / "musiq.pth") == pytest.approx(direct, abs=1e-5)
    gray = image.mean(axis=2)
    assert musiq.score(gray, tmp_path / "musiq.pth") == pytest.approx(musiq.score(np.repeat(gray[..., None], 3, 2), tmp_path / "musiq.pth"))


def test_musiq_distribution_heads_give_a_mean_opinion_score(tmp_path):
    """AVA checkpoints: a 10-bin distribution (pyiqa names the head ``head.0``) -> MOS in 1..10."""
    config = musiq.MUSIQConfig(patch_size=8, stem_channels=32, hidden_size=64, mlp_dim=48, num_heads=1, num_layers=1, grid_size=4,
                               num_classes=10)
    model = _tiny_musiq(5, config)
    torch.save({k.replace("head.", "head.0."): v for k, v in model.state_dict().items()}, tmp_path / "ava.pth")
    assert musiq.load(tmp_path / "ava.pth").config == config
    image = _image(6, (40, 56, 3))
    with torch.inference_mode():
        logits = model.head(model.transformer_encoder(
            model.embed_patches(musiq.multiscale_patches(torch.from_numpy(image).permute(2, 0, 1)[None] * 2 - 1, config)[0]),
            *musiq.multiscale_patches(torch.from_numpy(image).permute(2, 0, 1)[None] * 2 - 1, config)[1:]))
    expected = float((logits.softmax(-1) * torch.arange(1, 11)).sum())
    value = musiq.score(image, tmp_path / "ava.pth")
    assert value == pytest.approx(expected, abs=1e-5) and 1.0 <= value <= 10.0


# ----------------------------------------------------------------------------- CLIP-IQA


def test_clip_tokenizer_applies_merges_by_rank(tmp_path):
    tokenizer = ClipTokenizer(_write_vocab(tmp_path / "vocab.txt.gz"))
    o, t = ord("o") - ord("!"), ord("t") - ord("!")
    # "good" -> g o o d</w> -> g oo d</w> -> goo d</w> -> good</w> (merge 2); "photo" -> ph o t o</w>
    assert tokenizer.encode("Good  photo.") == [512 + 2, 512 + 3, o, t, 256 + o, 256 + ord(".") - ord("!")]
    ids = tokenizer(["Good photo."], context_length=10)
    assert ids[0, 0] == 516 and ids[0, 7] == 517 and not ids[0, 8:].any()
    with pytest.raises(ValueError, match="too long"):
        tokenizer(["good " * 20], context_length=10)


def test_clip_iqa_from_a_torchscript_checkpoint_through_the_cli(tmp_path):
    model = _tiny_clip()
    weights = _save_torchscript(model.state_dict(), tmp_path / "RN50.pt")
    _write_vocab(tmp_path / clip_iqa.VOCAB)  # found beside the checkpoint
    write_image(tmp_path / "f.png", _image(7, (64, 96, 3)))
    values = []
    for run in range(2):
        out = tmp_path / f"s{run}.json"
        result = _invoke("metrics", "--fused", tmp_path / "f.png", "--metrics", "CLIP-IQA,EN",
                         "--weights", f"CLIP-IQA={weights}", "--json", out)
        assert result.exit_code == 0, result.output
        values.append(json.loads(out.read_text())["items"][0]["metrics"]["CLIP-IQA"])
    assert values[0] == values[1] and 0.0 < values[0] < 1.0


def test_clip_iqa_is_the_probability_of_the_positive_prompt(tmp_path):
    weights = tmp_path / "clip.pth"
    torch.save(_tiny_clip(1).state_dict(), weights)
    _write_vocab(tmp_path / clip_iqa.VOCAB)
    image = _image(8, (64, 64, 3))
    good = clip_iqa.score(image, weights, prompts=[("Good photo.", "Bad photo.")])
    swapped = clip_iqa.score(image, weights, prompts=[("Bad photo.", "Good photo.")])
    assert good + swapped == pytest.approx(1.0, abs=1e-6) and good != pytest.approx(0.5, abs=1e-4)
    model, tokenizer = clip_iqa.load(weights)
    tokens = torch.from_numpy(tokenizer(["Good photo.", "Bad photo."], 16))
    with torch.inference_mode():
        img = torch.nn.functional.normalize(model.encode_image(torch.from_numpy(image).permute(2, 0, 1)[None]), dim=-1)
        txt = torch.nn.functional.normalize(model.encode_text(tokens), dim=-1)
        cos = (img @ txt.T)[0]
    assert good == pytest.approx(float(torch.sigmoid(100 * (cos[0] - cos[1]))), abs=1e-5)
    pair = clip_iqa.score(image, weights, prompts=clip_iqa.PYIQA_PROMPTS[:2])
    assert 0 < pair < 1


# ----------------------------------------------------------------------------- errors and lookup


def test_missing_weights_name_the_file_to_supply(tmp_path, monkeypatch):
    monkeypatch.setenv("FUSECLI_METRIC_WEIGHTS", str(tmp_path / "empty"))
    write_image(tmp_path / "f.png", _image(9))
    result = _invoke("metrics", "--fused", tmp_path / "f.png", "--metrics", "MUSIQ")
    assert result.exit_code == 2
    assert "musiq_koniq_ckpt-e95806b9.pth" in result.output and "--weights MUSIQ=PATH" in result.output
    result = _invoke("metrics", "--fused", tmp_path / "f.png", "--metrics", "CLIPQA")
    assert result.exit_code == 2 and "RN50.pt" in result.output


def test_weights_are_found_in_the_weights_folder(tmp_path, monkeypatch):
    folder = tmp_path / "metric-weights"
    folder.mkdir()
    musiq.save_musiq(_tiny_musiq(), folder / "musiq.safetensors")
    monkeypatch.setenv("FUSECLI_METRIC_WEIGHTS", str(folder))
    assert prepare_learned_metrics(["EN", "MUSIQ"], {}) == {"MUSIQ": folder / "musiq.safetensors"}


def test_wrong_or_unsafe_files_are_refused_clearly(tmp_path):
    clip_file = tmp_path / "clip.pth"
    torch.save(_tiny_clip().state_dict(), clip_file)
    with pytest.raises(CheckpointError, match="not a MUSIQ checkpoint"):
        prepare_learned_metrics(["MUSIQ"], {"MUSIQ": clip_file})
    musiq_file = tmp_path / "musiq.safetensors"
    musiq.save_musiq(_tiny_musiq(), musiq_file)
    with pytest.raises(CheckpointError, match="CLIP"):
        prepare_learned_metrics(["CLIP-IQA"], {"CLIP-IQA": musiq_file})
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_state_dict(tmp_path / "junk.pth")
    with open(tmp_path / "evil.pth", "wb") as f:  # a pickle that would run code when loaded unsafely
        pickle.dump({"conv_root.weight": torch.zeros(1), "x": _Holder()}, f, protocol=2)
    with pytest.raises(CheckpointError):
        load_state_dict(tmp_path / "evil.pth")
    with pytest.raises(MissingModelError, match="bpe_simple_vocab_16e6.txt.gz"):
        prepare_learned_metrics(["CLIP-IQA"], {"CLIP-IQA": clip_file})  # no tokenizer file beside it
    with pytest.raises(MissingModelError, match="not a file"):
        prepare_learned_metrics(["MUSIQ"], {"musiq": tmp_path / "nope.pth"})


def test_weights_option_is_checked(tmp_path):
    write_image(tmp_path / "f.png", _image(10))
    result = _invoke("metrics", "--fused", tmp_path / "f.png", "--metrics", "EN", "--weights", "MUSIQ")
    assert result.exit_code == 2 and "NAME=PATH" in result.output
    result = _invoke("metrics", "--fused", tmp_path / "f.png", "--metrics", "EN", "--weights", f"NIQE={tmp_path / 'f.png'}")
    assert result.exit_code == 2 and "without weights" in result.output
