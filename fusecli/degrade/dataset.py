"""Writing degraded datasets to disk: resumable, reproducible, parallel.

Layout under ``out/``::

    config.json                 the settings the dataset was made with
    manifest.jsonl              one line per sample (id, task, sources, ops + params, seed, prompt, crop, files)
    prompts/ID.txt              the prompt
    meta/ID.json                the sample's manifest line (written last: its presence marks the sample done)
    gt/ID.png                   with ``gt``: the clean frames fused by that training-free method
    VIF:      degraded/{ir,vis}/ID.png   clean/{ir,vis}/ID.png
    MEF/MFF:  degraded/ID/NN.png         clean/ID/NN.png   (frames dark->bright for MEF)

Each sample's random stream comes from ``(seed, source name, k)`` alone, so the bytes do not
depend on ``jobs`` or on which samples an interrupted run had already finished.
"""

from __future__ import annotations

import json
import shutil
import re
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from fusecli.batch import BatchItem
from fusecli.errors import FusecliError, InputMismatchError
from fusecli.imaging import ImageMeta, check_not_input, encode_image, output_meta, read_image, read_stack, write_bytes_atomic
from fusecli.batch.pairs import list_stacks, match_by_stem
from fusecli.degrade.pipeline import check_same_size, sample

MANIFEST = "manifest.jsonl"


@dataclass(frozen=True)
class Source:
    """One clean input: a VIF pair ``(ir, vis)`` or a stack of frames (or one multi-page TIFF)."""

    name: str
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class DatasetConfig:
    task: str
    n: tuple[int, ...] = (1, 2, 3)
    per_image: int = 1
    seed: int = 0
    aspects: tuple[str, ...] | None = None
    size: int | None = None
    ops: tuple[str, ...] | None = None  # restrict the pool of degradations
    level: str | None = None  # force heavy/mild instead of the n-based rule
    prompt_task: float = 0.3  # probability that a prompt mentions the task
    gt: str | None = None  # training-free fusion method for a ground truth of the clean frames

    def identity(self) -> dict:
        """What must match for a resumed run to continue the same dataset."""
        data = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in data.items()}


def safe_id(name: str) -> str:
    """A file-system friendly id from a source name (spaces, quotes, brackets removed)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_.")
    return cleaned or "sample"


def collect_sources(
    task: str,
    *,
    ir: Path | None = None,
    vis: Path | None = None,
    stacks: Path | None = None,
    a: Path | None = None,
    b: Path | None = None,
) -> tuple[list[Source], list[str]]:
    """Find the clean inputs for ``task``; returns sources and warnings about unmatched files."""
    if task == "vif":
        if not (ir and vis):
            raise FusecliError("--task vif needs --ir DIR and --vis DIR")
        matched = match_by_stem(ir, vis)
        return [Source(stem, paths) for stem, paths in matched.items], matched.describe_unmatched()
    if a and b:
        matched = match_by_stem(a, b)
        return [Source(stem, paths) for stem, paths in matched.items], matched.describe_unmatched()
    if not stacks:
        raise FusecliError(f"--task {task} needs --stacks DIR (one sub-folder or multi-page TIFF per scene) or --a DIR --b DIR")
    skipped: list[str] = []
    return [Source(s.name, s.frames) for s in list_stacks(stacks, skipped)], skipped


def load_frames(task: str, source: Source) -> tuple[list[np.ndarray], list[ImageMeta]]:
    """Read a source's frames: VIF as ``[ir (gray), vis]``; MEF sorted dark -> bright."""
    if task == "vif":
        ir, ir_meta = read_image(source.paths[0], channels=1)
        vis, vis_meta = read_image(source.paths[1])
        if vis.ndim == 3:
            vis = vis[..., :3]
        frames, metas = [ir, vis], [ir_meta, vis_meta]
    elif len(source.paths) == 1:
        frames, meta = read_stack(source.paths[0])
        frames = [f[..., :3] if f.ndim == 3 else f for f in frames]
        metas = [meta] * len(frames)
    else:
        loaded = [read_image(p) for p in source.paths]
        frames = [f[..., :3] if f.ndim == 3 else f for f, _ in loaded]
        metas = [m for _, m in loaded]
    if task != "vif":
        if len(frames) < 2:
            raise InputMismatchError(f"{source.name}: a {task.upper()} stack needs at least 2 frames, found {len(frames)}")
        channels = {f.ndim for f in frames}
        if len(channels) > 1:  # mixed gray and colour frames: promote to RGB
            frames = [np.repeat(f[..., None], 3, 2) if f.ndim == 2 else f for f in frames]
        if task == "mef":
            order = np.argsort([float(f.mean()) for f in frames], kind="stable")
            frames, metas = [frames[i] for i in order], [metas[i] for i in order]
    check_same_size(frames, [p.name for p in source.paths] if len(source.paths) == len(frames) else None)
    return frames, metas


def sample_seed(seed: int, name: str, k: int) -> int:
    """The seed of sample ``k`` of source ``name``: independent of order and jobs."""
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode()), k]).generate_state(1)[0])


def sample_id(source: Source, k: int, per_image: int) -> str:
    return safe_id(source.name) if per_image == 1 else f"{safe_id(source.name)}_{k:03d}"


def _relative_files(task: str, sid: str, count: int) -> dict[str, list[str]]:
    if task == "vif":
        return {
            "degraded": [f"degraded/ir/{sid}.png", f"degraded/vis/{sid}.png"],
            "clean": [f"clean/ir/{sid}.png", f"clean/vis/{sid}.png"],
        }
    return {
        "degraded": [f"degraded/{sid}/{i:02d}.png" for i in range(count)],
        "clean": [f"clean/{sid}/{i:02d}.png" for i in range(count)],
    }


def write_source_samples(job: tuple[DatasetConfig, Path, Source]) -> None:
    """Make and write every sample of one source (frames are read once for all ``per_image``)."""
    config, out, source = job
    todo = [k for k in range(config.per_image) if not (out / "meta" / f"{sample_id(source, k, config.per_image)}.json").exists()]
    if not todo:
        return
    frames, metas = load_frames(config.task, source)
    meta = output_meta(metas)
    depth = 16 if meta.bit_depth >= 16 else 8
    # Encode each distinct frame once: uncropped clean frames are the same for every sample
    # of this source, and a frame no op touched is its clean frame.
    encoded: dict[int, tuple[np.ndarray, bytes]] = {}

    def png(image: np.ndarray) -> bytes:
        if id(image) not in encoded:
            encoded[id(image)] = (image, encode_image(image, "png", depth))
        return encoded[id(image)][1]

    for k in todo:
        sid = sample_id(source, k, config.per_image)
        seed = sample_seed(config.seed, source.name, k)
        result = sample(
            frames,
            config.task,
            np.random.default_rng(seed),
            n=config.n,
            allowed=config.ops,
            level=config.level,
            aspect=config.aspects,
            size=config.size,
            prompt_task=None,
        )
        files = _relative_files(config.task, sid, len(frames))
        for kind, images in (("degraded", result.degraded), ("clean", result.clean)):
            for rel, image in zip(files[kind], images):
                target = out / rel
                check_not_input(target, source.paths)
                # Our own half-finished sample may have left this file; it is rewritten identically.
                write_bytes_atomic(target, png(image))
        if result.crop is not None:  # cropped frames differ per sample: free them
            encoded = {key: value for key, value in encoded.items() if any(value[0] is f for f in frames)}
        if config.gt:
            from fusecli.methods import fuse_frames

            files["gt"] = f"gt/{sid}.png"
            write_bytes_atomic(out / files["gt"], encode_image(fuse_frames(config.gt, result.clean), "png", depth))
        write_bytes_atomic(out / "prompts" / f"{sid}.txt", (result.prompt + "\n").encode())
        record = {
            "id": sid,
            "task": config.task,
            "sources": [str(p) for p in source.paths],
            "n": len(result.ops),
            "level": result.ops[0].level if result.ops else None,
            "ops": [op.as_dict() for op in result.ops],
            "seed": seed,
            "dataset_seed": config.seed,
            "index": k,
            "prompt": result.prompt,
            "crop": result.crop,
            "files": files | {"prompt": f"prompts/{sid}.txt"},
        }
        write_bytes_atomic(out / "meta" / f"{sid}.json", json.dumps(record, sort_keys=True).encode())


@dataclass
class DatasetPlan:
    config: DatasetConfig
    out: Path
    items: list[BatchItem] = field(default_factory=list)


def plan_dataset(config: DatasetConfig, out: Path, sources: Sequence[Source], *, overwrite: bool = False) -> DatasetPlan:
    """Check the output folder and list one batch item per source.

    A folder made with other settings is refused (unless ``overwrite``), so a resumed run can
    never mix two datasets.
    """
    out = Path(out)
    config_path = out / "config.json"
    wanted = config.identity()
    if config_path.exists() and not overwrite:
        try:
            existing = json.loads(config_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise FusecliError(f"{config_path}: not a fusecli dataset's settings (corrupt); use another folder or --overwrite") from None
        if existing != wanted:
            diff = ", ".join(f"{k}: {existing.get(k)!r} -> {v!r}" for k, v in wanted.items() if existing.get(k) != v)
            raise FusecliError(f"{out} holds a dataset made with other settings ({diff}); use another folder or --overwrite")
    if overwrite and config_path.exists():
        _remove_dataset(out, sources)
    _remove_temporaries(out)
    write_bytes_atomic(config_path, json.dumps(wanted, indent=2, sort_keys=True).encode())
    ids: dict[str, str] = {}
    items = []
    for source in sources:
        sid = safe_id(source.name)
        if sid in ids:
            raise InputMismatchError(f"sources {ids[sid]!r} and {source.name!r} map to the same sample id {sid!r}")
        ids[sid] = source.name
        outputs = tuple(out / "meta" / f"{sample_id(source, k, config.per_image)}.json" for k in range(config.per_image))
        items.append(BatchItem(source.name, (config, out, source), outputs))
    return DatasetPlan(config, out, items)


DATASET_FOLDERS = ("degraded", "clean", "gt", "prompts", "meta")


def _remove_dataset(out: Path, sources: Sequence[Source]) -> None:
    """``--overwrite`` of a folder that holds a dataset (its ``config.json``): the old dataset goes
    wholly (its sub-folders and manifest), so the new one is never mixed with old samples; a
    folder an input lives in is refused instead. Files of other tools beside them are kept."""
    doomed = [out / name for name in DATASET_FOLDERS if (out / name).is_dir()]
    for source in sources:
        for path in source.paths:
            inside = [d for d in doomed if Path(path).resolve().is_relative_to(d.resolve())]
            if inside:
                raise InputMismatchError(f"--overwrite would remove {inside[0]}, which holds an input ({path}); write the dataset elsewhere")
    for folder in doomed:
        shutil.rmtree(folder)
    (out / MANIFEST).unlink(missing_ok=True)


def _remove_temporaries(out: Path) -> None:
    """The temporary files of an interrupted run (``.NAME.*.tmp``, fusecli.imaging.write_bytes_atomic)."""
    stale = list(out.glob(".*.tmp")) if out.is_dir() else []
    for name in DATASET_FOLDERS:
        stale += list((out / name).rglob(".*.tmp")) if (out / name).is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)


def write_manifest(out: Path) -> tuple[Path, int]:
    """Gather ``meta/*.json`` into ``manifest.jsonl`` (sorted by id, written atomically)."""
    out = Path(out)
    lines = [p.read_text() for p in sorted((out / "meta").glob("*.json"))] if (out / "meta").exists() else []
    path = out / MANIFEST
    write_bytes_atomic(path, ("\n".join(lines) + ("\n" if lines else "")).encode())
    return path, len(lines)


def read_manifest(out: Path) -> list[dict]:
    path = Path(out) / MANIFEST
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
