"""--shard K/N: N shards of a folder batch together do exactly what one unsharded run does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fusecli.batch import select_shard, shard_of
from fusecli.cli.main import cli
from fusecli.imaging import write_image

from conftest import smooth_image

NAMES = [f"{k:04d}" for k in range(12)]


def run(*args) -> object:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(3)
    for name in NAMES:
        write_image(root / "ir" / f"{name}.png", smooth_image(rng, 32, 40))
        write_image(root / "vis" / f"{name}.png", smooth_image(rng, 32, 40, 3))
    return root


def test_the_assignment_is_crc32_of_the_name():
    """The documented rule, checked against values worked out by hand with binascii.crc32."""
    assert [shard_of(name, 4) for name in ("0001", "scene", "ü")] == [1, 3, 2]
    shards = [select_shard([type("I", (), {"name": n})() for n in NAMES], (k, 3)) for k in (1, 2, 3)]
    assert sorted(i.name for s in shards for i in s) == NAMES and all(shards)
    with pytest.raises(ValueError):
        select_shard([], (4, 3))


def test_fuse_shards_together_equal_the_unsharded_run(pairs, tmp_path):
    batch = ["fuse", "--task", "vif", "--model", "pyramid-vif", "--ir", pairs / "ir", "--vis", pairs / "vis", "-o"]
    run(*batch, tmp_path / "whole")
    for k in (1, 2, 3):
        run(*batch, tmp_path / "sharded", "--shard", f"{k}/3")
        done = {p.stem for p in (tmp_path / "sharded").iterdir()}
        assert {n for n in NAMES if shard_of(n, 3) <= k} == done  # each shard did its own items only
    assert files(tmp_path / "sharded") == files(tmp_path / "whole")


def test_degrade_shards_together_equal_the_unsharded_dataset(pairs, tmp_path):
    """Every shard writes its samples; the manifest lists the samples there when it finishes, so
    once the last shard is done the folder is the unsharded run's, byte for byte."""
    dataset = ["degrade", "--task", "vif", "--ir", pairs / "ir", "--vis", pairs / "vis", "--per-image", 2, "--seed", 4, "--out"]
    run(*dataset, tmp_path / "whole")
    for k in (1, 2):
        run(*dataset, tmp_path / "sharded", "--shard", f"{k}/2")
    assert files(tmp_path / "sharded") == files(tmp_path / "whole")
    refused = CliRunner().invoke(cli, [str(a) for a in (*dataset, tmp_path / "sharded", "--shard", "1/2", "--overwrite")])
    assert refused.exit_code == 2 and "other shards" in refused.output


def test_metrics_shards_together_score_the_same_items(pairs, tmp_path):
    score = ["metrics", "--fused", pairs / "vis", "--sources", pairs / "ir", pairs / "vis", "--metrics", "EN,SSIM,Qabf", "--json"]
    run(*score, tmp_path / "whole.json")
    items = []
    for k in (1, 2, 3):
        run(*score, tmp_path / f"shard{k}.json", "--shard", f"{k}/3")
        items += json.loads((tmp_path / f"shard{k}.json").read_text())["items"]
    assert sorted(items, key=lambda i: i["name"]) == json.loads((tmp_path / "whole.json").read_text())["items"]


@pytest.mark.parametrize("value", ["0/3", "4/3", "2", "a/b", "1/0"])
def test_a_malformed_shard_is_a_usage_error(pairs, tmp_path, value):
    result = CliRunner().invoke(cli, ["fuse", "--ir", str(pairs / "ir"), "--vis", str(pairs / "vis"), "-o", str(tmp_path / "o"), "--shard", value])
    assert result.exit_code == 2 and "K/N" in result.output
