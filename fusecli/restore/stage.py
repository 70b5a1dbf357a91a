"""The all-in-one models' classical stage, which runs before the network.

An all-in-one model (:class:`fusecli.models.mmaif_arch.MMAIF` with a ``base``) corrects a
training-free fusion of its inputs. This stage makes that input from the frames and the prompt:

1. the restorations the prompt names and the model's config lists for the task (``restore``:
   "remove the haze" -> dark-channel dehazing of every frame), with whole-image statistics so
   the tiles of a large image are restored alike; JPEG blocking and low resolution
   (``learned_restore``) go through the model's learned full-resolution restorer instead, low
   resolution only on the frames that look up-sampled;
2. the task's training-free fusion of the restored frames: the classical base;
3. the gate's evidence: which degradations the prompt names (:data:`fusecli.restore.prompts.PROMPT_PATTERNS`).

The network receives 2 and 3 through :class:`fusecli.models.base.FuseOptions` (``base``,
``evidence``); :func:`prepare` fills them in.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import Tensor

from fusecli.methods import fuse_frames
from fusecli.restore.classical import FRAME_DECISIONS, RESTORATIONS, RestoreStats, looks_upsampled, restore, restore_stack
from fusecli.restore.prompts import PROMPT_PATTERNS, degradations_in_prompt


class ClassicalStage:
    """The classical stage of one model: its ``base`` (task -> training-free method), ``restore``
    (task -> degradations restored when the prompt names them), ``learned_restore`` (those of them
    the ``restorer`` network undoes) and that restorer (an ``nn.Module`` with ``restore_in_tiles``)."""

    def __init__(self, base: dict[str, str], restore: dict[str, list[str]] | None = None, learned_restore: list[str] | None = None, restorer: Any = None) -> None:
        self.base = dict(base)
        self.restore = {task: list(ops) for task, ops in (restore or {}).items()}
        for task, names in self.restore.items():
            unknown = sorted(set(names) - set(PROMPT_PATTERNS))
            if unknown:
                raise ValueError(f"restore: {task!r} -> {', '.join(unknown)}: no such degradations; choose from {', '.join(PROMPT_PATTERNS)}")
        self.learned_restore = list(learned_restore or []) if restorer is not None else []
        self.restorer = restorer

    @classmethod
    def of(cls, model: Any) -> "ClassicalStage | None":
        """The stage of ``model`` (its config's ``base``, ``restore``, ``learned_restore`` and its
        ``restorer``), or None for a model without a classical base."""
        config = getattr(model, "config", None)
        if not getattr(config, "base", None):
            return None
        return cls(config.base, config.restore, config.learned_restore, getattr(model, "restorer", None))

    def method(self, task: str) -> str | None:
        """The training-free method whose fusion is the base for ``task`` (None: no base)."""
        return self.base.get(task)

    def restorations(self, task: str, prompt: str | None) -> list[str]:
        """Degradations the prompt names that are restored for ``task`` (those need whole-image statistics)."""
        wanted = self.restore.get(task, [])
        return [name for name in degradations_in_prompt(prompt) if name in wanted]

    def describe(self, task: str, prompt: str | None, stats: list[RestoreStats] | None = None) -> list[str]:
        """:meth:`restorations` as the user is told them: those of the learned restorer marked
        so and, from the frames' whole-image ``stats``, which frames a low-resolution
        restoration runs on."""
        learned = set(self.learned_restore)
        ops = self.restorations(task, prompt)
        learned_ops = [op for op in ops if op in learned]
        where = ""
        scored = stats is not None and all("downsample" in frame for frame in stats)  # scored for this decision
        if scored and learned_ops and _only_frame_decisions(learned_ops):
            chosen = _restorer_frames(learned_ops, [None] * len(stats), stats)
            numbers = " and ".join(str(i + 1) for i in chosen)
            where = (f"; on frame {numbers} of {len(stats)}, which looks up-sampled" if len(chosen) == 1
                     else f"; on frames {numbers} of {len(stats)}, which look up-sampled" if chosen else "; no frame looks up-sampled: none restored")
        return [op + (f" (learned restorer{where})" if op in learned else "") for op in ops]

    def restore_frames(self, sources: list[np.ndarray], task: str, ops: list[str], stats: list[RestoreStats] | None) -> list[np.ndarray]:
        """``sources`` ``(H, W)`` with the restorations ``ops`` applied in
        :data:`fusecli.restore.RESTORATIONS` order: the classical ones (a stack's frames with one
        contrast gain: :func:`fusecli.restore.restore_stack`; VIF stripes in the infrared only), and
        the learned restorer where it takes over (``learned_restore``)."""
        infrared_only = {"ir_stripes"} if task == "vif" else set()  # VIF frame 0 is the infrared

        def classical(frames: list[np.ndarray], names: list[str]) -> list[np.ndarray]:
            if not names:
                return frames
            if task != "vif":
                return restore_stack(frames, names, task, stats)
            return [restore(f, [op for op in names if i == 0 or op not in infrared_only], None if stats is None else stats[i]) for i, f in enumerate(frames)]

        ordered = [op for op in RESTORATIONS if op in ops]
        learned = [i for i, op in enumerate(ordered) if op in self.learned_restore]
        if not learned:
            return classical(sources, ordered)
        sources = list(classical(sources, ordered[: learned[0]]))  # a copy: frames are replaced below
        # Low resolution alone: only the frames that look up-sampled (a VIF prompt does not say
        # which of the two frames it means, and the restorer sharpens a clean frame too)
        chosen = _restorer_frames([ordered[i] for i in learned], sources, stats)
        if chosen:
            with torch.no_grad():
                frames = torch.from_numpy(np.stack([sources[i] for i in chosen])[:, None]).to(next(self.restorer.parameters()).device)
                for i, restored in zip(chosen, self.restorer.restore_in_tiles(frames)[:, 0].float().cpu().numpy()):
                    sources[i] = restored
        return classical(sources, [op for op in ordered[learned[0] + 1 :] if op not in self.learned_restore])

    def fuse_base(self, frames: Tensor, task: str, prompts: list[str | None] | None = None, stats: list[list[RestoreStats]] | None = None) -> Tensor | None:
        """The classical base of ``(B, N, 1, H, W)`` frames in 0..1: ``(B, 1, H, W)``, or None
        when there is no base for ``task``. ``prompts`` (one per item): the frames are restored
        first for what each names, with the whole image's ``stats`` (per item, per frame) when
        given (tiles, training crops)."""
        method = self.method(task)
        if method is None:
            return None
        arrays = frames.detach().float().cpu().numpy()
        fused = []
        for index, (item, prompt) in enumerate(zip(arrays, prompts or [None] * len(arrays))):
            sources = list(item[:, 0])
            ops = self.restorations(task, prompt)
            if ops:
                sources = self.restore_frames(sources, task, ops, None if stats is None else stats[index])
            fused.append(fuse_frames(method, sources))
        return torch.from_numpy(np.stack(fused)[:, None]).to(device=frames.device, dtype=frames.dtype).clamp(0, 1)


def evidence(prompts: list[str | None], device: torch.device | str = "cpu") -> Tensor:
    """``(B, K)``: 1 where prompt b names degradation k of :data:`PROMPT_PATTERNS` (the
    correction gate's evidence: how far a restored base can be trusted depends on which
    restoration made it, which the text embedding does not separate linearly)."""
    found = [set(degradations_in_prompt(p)) for p in prompts]  # each prompt parsed once
    rows = [[float(op in names) for op in PROMPT_PATTERNS] for names in found]
    return torch.tensor(rows, device=device).reshape(len(prompts), len(PROMPT_PATTERNS))


def prepare(model: Any, frames: Tensor, options: Any, stats: list[RestoreStats] | None = None) -> Any:
    """``options`` (:class:`fusecli.models.base.FuseOptions`) with what ``model``'s classical stage
    gives its network for ``(B, N, 1, H, W)`` frames: the base (unless given: a tile's crop of the
    whole image's) and the gate's evidence. ``stats``: the whole image's restoration statistics
    per frame. Models without a classical stage get ``options`` unchanged."""
    stage = ClassicalStage.of(model)
    if stage is None:
        return options
    b = frames.shape[0]
    prompts = [options.prompt] * b
    base = options.base
    if base is None:
        base = stage.fuse_base(frames, options.task, prompts, None if stats is None else [stats] * b)
    return dataclasses.replace(options, base=base, evidence=evidence(prompts, frames.device))


def _only_frame_decisions(learned_ops: list[str]) -> bool:
    """True when every learned restoration asked for runs only on the frames that need it."""
    return all(op in FRAME_DECISIONS for op in learned_ops)


def _restorer_frames(learned_ops: list[str], sources: list[np.ndarray | None], stats: list[RestoreStats] | None) -> list[int]:
    """Indices of the frames the learned restorer runs on for ``learned_ops``: all of them, but
    for low resolution alone only those that look up-sampled (whole-image ``stats`` when given)."""
    if not _only_frame_decisions(learned_ops):
        return list(range(len(sources)))
    return [i for i, f in enumerate(sources) if looks_upsampled(f, None if stats is None else stats[i].get("downsample"))]
