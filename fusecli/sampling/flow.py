"""Deterministic and stochastic samplers for flow matching (seed 000 eq. 4 and eq. 15).

The model is trained on ``Z_t = t Z1 + (1 - t) Z0`` (``Z0`` noise, ``Z1`` data) to predict the
velocity ``v(z, t) = E[Z1 - Z0 | Z_t = z]``. The ODE ``dZ = v dt`` (eq. 4) carries noise to
data. Adding a Langevin correction whose score comes from the velocity itself gives the
marginal-preserving SDE of eq. 15, written here without any division:

    dZ = [v + gamma_t (t v - Z)] dt + sqrt(2 gamma_t (1 - t)) dW

integrated with Euler-Maruyama. The last step is a plain ODE step (no noise), so nothing is
injected that cannot be removed. ``gamma = 0`` is exactly the Euler ODE.

For a start ``Z0 = c + s N(0, I)`` (centred on ``c``, e.g. a classical fusion, with std ``s``),
``t v - Z = -(c + s eps)``, so the score is ``(t v - Z + c) / ((1 - t) s^2)`` and the same SDE reads

    dZ = [v + gamma_t (t v - Z + c)] dt + s sqrt(2 gamma_t (1 - t)) dW.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

Velocity = Callable[[Tensor, float], Tensor]

GAMMA_SCHEDULES: dict[str, Callable[[float, float], float]] = {
    "constant": lambda gamma, t: gamma,
    # strongest correction early, none at the end (where the data manifold is sharp)
    "linear-decay": lambda gamma, t: gamma * (1.0 - t),
    # a bump in the middle of the path, zero at both ends
    "sine": lambda gamma, t: gamma * math.sin(math.pi * t),
}


def gamma_schedule(gamma: float | str | Callable[[float], float], scale: float = 1.0) -> Callable[[float], float]:
    """``gamma`` as a function of ``t``: a number (constant), a schedule name, or a callable.

    A name may carry its scale after a colon, e.g. ``"linear-decay:2"``.
    """
    if callable(gamma):
        return gamma
    if isinstance(gamma, str):
        name, _, value = gamma.partition(":")
        if name not in GAMMA_SCHEDULES:
            raise ValueError(f"unknown gamma schedule {name!r}; choose from {', '.join(GAMMA_SCHEDULES)}")
        g = float(value) if value else scale
        fn = GAMMA_SCHEDULES[name]
        return lambda t: fn(g, t)
    g = float(gamma)
    if g < 0:
        raise ValueError(f"gamma must be >= 0, got {g}")
    return lambda t: g


def sample_flow(
    velocity: Velocity,
    z0: Tensor,
    steps: int,
    gamma: float | str | Callable[[float], float] = 0.0,
    generator: torch.Generator | None = None,
    *,
    method: str = "euler",
    t_start: float = 0.0,
    centre: Tensor | None = None,
    scale: float = 1.0,
    return_trajectory: bool = False,
) -> Tensor | tuple[Tensor, list[Tensor]]:
    """Integrate from ``z0`` at ``t_start`` to ``t = 1`` in ``steps`` equal steps.

    ``velocity(z, t)`` returns ``v`` for a batch ``z`` at scalar time ``t``. ``method`` is
    ``"euler"`` (one evaluation per step) or ``"heun"`` (two; second-order on the drift).
    ``t_start > 0`` with ``z0`` a noised blend of the sources is the bridge start (seed 000
    section 2.2): fewer steps, since part of the path is skipped. ``centre`` and ``scale``: the
    mean and std of the model's start distribution (default N(0, I)), for the Langevin term.
    Noise is drawn from ``generator``, so a seeded generator gives the same sample.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 0.0 <= t_start < 1.0:
        raise ValueError(f"t_start must be in [0, 1), got {t_start}")
    if method not in ("euler", "heun"):
        raise ValueError(f"method must be 'euler' or 'heun', got {method!r}")
    gamma_at = gamma_schedule(gamma)
    times = [t_start + (1.0 - t_start) * i / steps for i in range(steps + 1)]
    z = z0
    trajectory = [z]

    for i in range(steps):
        t, t_next = times[i], times[i + 1]
        dt = t_next - t
        g = 0.0 if i == steps - 1 else gamma_at(t)
        v = velocity(z, t)
        d = v
        if method == "heun":  # second order on the ODE part; the Langevin term stays Euler
            d = 0.5 * (v + velocity(z + v * dt, t_next))
        if g > 0:
            d = d + g * (t * v - z + (0.0 if centre is None else centre))
        z = z + d * dt
        if g > 0:
            noise = torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)
            z = z + scale * math.sqrt(2.0 * g * (1.0 - t) * dt) * noise
        if return_trajectory:
            trajectory.append(z)
    return (z, trajectory) if return_trajectory else z
