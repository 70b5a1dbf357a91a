"""Weights files: round trip, metadata, and every way loading can go wrong."""

import json

import pytest
import torch
from click.testing import CliRunner

from fusecli.cli.main import cli
from fusecli.errors import UnknownNameError, WeightsError
from fusecli.models.weights import CATALOG, build, build_entry, load_model, load_weights, read_metadata, save_weights


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = build_entry("moefusion-vif")
    path = save_weights(model, tmp_path / "m.safetensors", {"steps": 12, "data": "unit test"})
    return model, path


def test_round_trip_is_bit_exact_with_config_and_provenance(saved):
    model, path = saved
    loaded = load_weights(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    assert loaded.provenance == {"steps": 12, "data": "unit test"}
    assert not loaded.training
    meta = read_metadata(path)
    assert meta["arch"] == "moe-fusion" and meta["config"] == {**meta["config"], "channels": 12, "downscale": 2}


def test_every_zoo_network_builds_and_round_trips(tmp_path):
    for name in CATALOG:
        entry = CATALOG.get(name)
        if entry.arch is None:
            continue
        model = build_entry(name)
        loaded = load_model(save_weights(model, tmp_path / f"{name}.safetensors"))
        assert sum(p.numel() for p in loaded.parameters()) == sum(p.numel() for p in model.parameters())
        if entry.kind == "learned":  # `models list` and `fuse` tell the same
            assert model.takes_prompt == entry.prompt, name


def test_truncated_file_is_a_clear_error(saved, tmp_path):
    _, path = saved
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(WeightsError, match="corrupt|not a readable"):
        load_weights(broken)


def test_garbage_and_foreign_files(tmp_path):
    garbage = tmp_path / "g.safetensors"
    garbage.write_bytes(b"not weights at all")
    with pytest.raises(WeightsError, match="not a readable"):
        load_weights(garbage)
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(WeightsError, match="not fusecli weights"):
        load_weights(foreign)


def test_wrong_arch_and_mismatched_config(saved, tmp_path):
    _, path = saved
    with pytest.raises(WeightsError, match="expected 'mmaif'"):
        load_weights(path, arch="mmaif")
    small = build("moe-fusion", {"channels": 4})
    from safetensors.torch import save

    from fusecli.models.weights import FORMAT

    meta = {"format": FORMAT, "arch": "moe-fusion", "config": json.dumps({"channels": 8}), "provenance": "{}"}
    lying = tmp_path / "lying.safetensors"
    lying.write_bytes(save({k: v.contiguous() for k, v in small.state_dict().items()}, metadata=meta))
    with pytest.raises(WeightsError, match="does not match its config"):
        load_weights(lying)
    with pytest.raises(WeightsError, match="does not fit"):
        build("moe-fusion", {"colour": 3})


def test_missing_shipped_weights_name_the_file(monkeypatch, tmp_path):
    monkeypatch.setattr("fusecli.catalog.weights_dirs", lambda: [tmp_path])
    with pytest.raises(WeightsError, match="mmaif-reg.safetensors"):
        load_model("mmaif-reg")
    with pytest.raises(WeightsError, match="training-free"):
        load_model("exposure-fusion")
    with pytest.raises(UnknownNameError, match="did you mean"):
        load_model("mmaif-rge")


def test_models_cli_lists_and_shows(saved, monkeypatch, tmp_path):
    _, path = saved
    monkeypatch.setattr("fusecli.catalog.weights_dirs", lambda: [tmp_path])
    (tmp_path / "moefusion-vif.safetensors").write_bytes(path.read_bytes())
    runner = CliRunner()
    listing = runner.invoke(cli, ["models", "--json"])
    assert listing.exit_code == 0, listing.output
    rows = {r["name"]: r for r in json.loads(listing.output)}
    assert set(rows) == set(CATALOG.names())
    assert rows["moefusion-vif"]["weights"] and rows["moefusion-vif"]["size_bytes"] == path.stat().st_size
    assert rows["mmaif-reg"]["weights"] is None and rows["mmaif-reg"]["parameters"] > 100_000
    table = runner.invoke(cli, ["models"])
    assert table.exit_code == 0 and "exposure-fusion" in table.output and "missing" in table.output
    # not a terminal: the table keeps its natural width (rich would squeeze it into 80 columns)
    assert "…" not in table.output and "moefusion-vif-full" in table.output and "training-free" in table.output
    show = runner.invoke(cli, ["models", "show", "moefusion-vif"])
    assert show.exit_code == 0 and json.loads(show.output)["provenance"]["steps"] == 12
    untrained = runner.invoke(cli, ["models", "show", "mmaif-reg"])
    assert "untrained default config" in untrained.output
    bad = runner.invoke(cli, ["models", "show", "nope"])
    assert bad.exit_code == 2 and "unknown model" in bad.output


def test_models_lists_the_parameters_of_the_file_that_is_there(monkeypatch, tmp_path):
    """A file whose config differs from the catalog's (a run may add parts) is counted as stored;
    a broken one does not stop the listing."""
    from fusecli.models.weights import describe

    monkeypatch.setattr("fusecli.catalog.weights_dirs", lambda: [tmp_path])
    entry = CATALOG.get("blend-vif")
    catalog_count = describe(entry)["parameters"]
    wider = build("blend-vif", {"width": 24})
    save_weights(wider, tmp_path / "blend-vif.safetensors", {"steps": 1})
    assert describe(entry)["parameters"] == sum(p.numel() for p in wider.parameters()) != catalog_count
    (tmp_path / "blend-vif.safetensors").write_bytes(b"not weights")
    assert describe(entry)["parameters"] == catalog_count
