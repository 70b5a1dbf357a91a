"""Flow samplers on an analytic problem: data N(mu, sigma^2) with its exact velocity field."""

import pytest
import torch

from fusecli.sampling import sample_flow

MU, SIGMA = 1.0, 0.5


def exact_velocity(z, t):
    """E[Z1 - Z0 | Z_t = z] for Z1 ~ N(MU, SIGMA^2), Z0 ~ N(0, 1) independent."""
    var = t * t * SIGMA**2 + (1 - t) ** 2
    return MU + (t * SIGMA**2 - (1 - t)) / var * (z - t * MU)


@pytest.fixture(scope="module")
def z0():
    return torch.randn(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def run(z0, steps, gamma, method="euler", seed=1):
    return sample_flow(exact_velocity, z0, steps, gamma=gamma, generator=torch.Generator().manual_seed(seed), method=method)


def test_ode_has_known_euler_bias(z0):
    z = run(z0, 50, 0.0)
    assert float(z.mean()) == pytest.approx(MU, abs=0.01)
    assert 0.478 < float(z.std()) < 0.492  # first-order Euler under-disperses (~0.484)


def test_sde_removes_the_bias_at_equal_steps(z0):
    ode = float(run(z0, 50, 0.0).std())
    sde = float(run(z0, 50, 2.0).std())
    assert abs(sde - SIGMA) < 0.006
    assert abs(sde - SIGMA) < abs(ode - SIGMA) / 2
    assert float(run(z0, 50, 2.0).mean()) == pytest.approx(MU, abs=0.01)


def test_heun_ode_is_second_order(z0):
    assert abs(float(run(z0, 10, 0.0, "heun").std()) - SIGMA) < 0.005
    assert abs(float(run(z0, 10, 0.0, "euler").std()) - SIGMA) > 0.05


def test_gamma_zero_is_exactly_the_ode(z0):
    manual = z0.clone()
    for i in range(20):
        t = i / 20
        manual = manual + exact_velocity(manual, t) / 20
    assert torch.allclose(run(z0, 20, 0.0), manual, rtol=0, atol=1e-12)
    # gamma = 0 draws no noise: the generator's seed cannot matter
    assert torch.equal(run(z0, 20, "constant:0", seed=1), run(z0, 20, 0.0, seed=2))


def test_seeded_sde_is_deterministic_and_seed_dependent(z0):
    a, b, c = run(z0[:1000], 10, 1.0, seed=3), run(z0[:1000], 10, 1.0, seed=3), run(z0[:1000], 10, 1.0, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_named_schedules_and_bridge_start(z0):
    z = run(z0, 50, "linear-decay:2")
    assert abs(float(z.std()) - SIGMA) < 0.01
    # bridge: start at t=0.5 from the exact marginal there; 25 steps cover the rest of the path
    t0 = 0.5
    start = t0 * MU + (t0**2 * SIGMA**2 + (1 - t0) ** 2) ** 0.5 * z0
    bridged = sample_flow(exact_velocity, start, 10, gamma=0.0, t_start=t0, method="heun")
    assert float(bridged.mean()) == pytest.approx(MU, abs=0.01)
    assert abs(float(bridged.std()) - SIGMA) < 0.005


def test_sde_from_a_centred_start_keeps_the_marginals(z0):
    """A start Z0 ~ N(C, S^2) (a flow from a classical fusion, blurred by noise): the Langevin
    term needs that centre and scale, or the SDE pulls the samples toward N(0, 1)'s score."""
    c, s = -2.0, 0.3

    def velocity(z, t):
        var = t * t * SIGMA**2 + (1 - t) ** 2 * s**2
        return MU - c + (t * SIGMA**2 - (1 - t) * s**2) / var * (z - t * MU - (1 - t) * c)

    start = c + s * z0
    centred = sample_flow(velocity, start, 50, gamma=2.0, generator=torch.Generator().manual_seed(1), centre=torch.tensor(c, dtype=torch.float64), scale=s)
    assert float(centred.mean()) == pytest.approx(MU, abs=0.01) and abs(float(centred.std()) - SIGMA) < 0.006
    wrong = sample_flow(velocity, start, 50, gamma=2.0, generator=torch.Generator().manual_seed(1))
    assert abs(float(wrong.mean()) - MU) > 0.05 or abs(float(wrong.std()) - SIGMA) > 0.05


def test_bad_arguments_fail_clearly(z0):
    with pytest.raises(ValueError, match="steps"):
        run(z0, 0, 0.0)
    with pytest.raises(ValueError, match="schedule"):
        run(z0, 5, "wobbly")
    with pytest.raises(ValueError, match="gamma"):
        run(z0, 5, -1.0)
