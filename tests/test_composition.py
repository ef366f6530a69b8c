"""Composition: the shapes data, the energy algebra, alternating sampling, 2-D oracles, and the CLI."""

import math

import numpy as np
import pytest
import torch

from igebm.cli import main
from igebm.data import load_dataset
from igebm.data.shapes import FIXED_POS, FIXED_SIZE, render
from igebm.errors import UserError
from igebm.evaluation.composition import (AttributeRegressor, load_regressor, mmd, moment_readback, position_shares,
                                          readback_errors, validation_requests, zero_shot_pairs)
from igebm.models.algebra import AND, NOT, OR, Expert, Mixture, Sum, Wrapped
from igebm.sampling import SAMPLERS, LangevinSampler
from igebm.sampling.composite import AlternatingSampler
from igebm.tasks.composition import analytic_energy, build_composite, exact_samples, requested_attributes
from igebm.tasks.composition.compose import sample_composite

from conftest import tiny_config


# ----------------------------------------------------------------- data
@pytest.mark.parametrize("size,x,y", [(0.3, 0.5, 0.5), (0.45, 0.3, 0.7), (0.25, 0.71, 0.28)])
def test_square_pixels_are_the_exact_coverage_of_what_was_asked(size, x, y):
    img = render("square", size, x, y, resolution=16)
    assert img.shape == (1, 1, 16, 16) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0
    assert img.sum() == pytest.approx((size * 16) ** 2, rel=1e-5)
    est = moment_readback(img, threshold=0.0)[0]
    np.testing.assert_allclose(est, [size, x, y], atol=1e-3)  # pixel-centre moments: exact size, centre to 1e-3


@pytest.mark.parametrize("kind", ["ellipse", "triangle"])
def test_other_shapes_read_back_close_to_their_attributes(kind):
    img = render(kind, [0.5, 0.35], [0.5, 0.4], [0.5, 0.6], resolution=32)
    est = moment_readback(img, kind, threshold=0.0)
    assert np.abs(est[:, 0] - [0.5, 0.35]).max() < 0.01
    if kind == "ellipse":  # the triangle's centroid is not its bounding-box centre
        np.testing.assert_allclose(est[:, 1:], [[0.5, 0.5], [0.4, 0.6]], atol=0.01)
    assert ((img > 0) & (img < 1)).any(), "edges are anti-aliased"


def test_splits_hold_the_attributes_they_vary_and_fix_the_others():
    cfg = tiny_config().data
    cfg.name = "shapes_size"
    size = load_dataset(cfg, "train")
    assert size.attribute_names == ("size",) and size.shape == (1, 16, 16)
    est = moment_readback(size.x[:200], threshold=0.0)
    np.testing.assert_allclose(est[:, 0], size.attributes[:200, 0], atol=1e-4)
    np.testing.assert_allclose(est[:, 1:], np.tile(FIXED_POS, (200, 1)), atol=1e-3)
    cfg.name, cfg.image_size = "shapes_position", 24
    pos = load_dataset(cfg, "val")
    assert pos.attribute_names == ("x", "y") and pos.shape == (1, 24, 24)
    est = moment_readback(pos.x[:200], threshold=0.0)
    np.testing.assert_allclose(est[:, 1:], pos.attributes[:200], atol=1e-3)
    np.testing.assert_allclose(est[:, 0], FIXED_SIZE, atol=1e-4)
    cfg.name, cfg.image_size = "shapes_full", 0
    full = load_dataset(cfg, "test")
    assert full.attribute_names == ("size", "x", "y")
    again = load_dataset(cfg, "test")
    np.testing.assert_array_equal(full.x, again.x)  # seeded, reproducible


def test_shape_jitter_moves_the_fixed_attribute_within_its_bound_and_nothing_else():
    cfg = tiny_config().data
    cfg.name = "shapes_size"
    exact = load_dataset(cfg, "train")
    cfg.shape_jitter = 0.03
    jittered = load_dataset(cfg, "train")
    np.testing.assert_array_equal(jittered.attributes, exact.attributes)  # the same sizes, drawn first
    centres = moment_readback(jittered.x[:500], threshold=0.0)[:, 1:]
    assert np.abs(centres - FIXED_POS).max() <= 0.03 + 1e-3 and centres.std(0).min() > 0.015  # uniform on ±0.03
    assert abs(np.corrcoef(centres.T)[0, 1]) < 0.2  # x and y drawn apart
    cfg.name = "shapes_position"
    sizes = moment_readback(load_dataset(cfg, "train").x[:500], threshold=0.0)[:, 0]
    assert np.abs(sizes - FIXED_SIZE).max() <= 0.03 + 1e-3 and sizes.std() > 0.015
    cfg.shape_jitter = 0.5
    with pytest.raises(UserError, match=r"data.shape_jitter' must be in \[0, 0.1\]"):
        cfg.validate()


def test_the_size_recipe_jitters_its_centre_and_the_position_recipe_does_not():
    from igebm.config import load_config
    from igebm.recipes import find_recipe

    assert load_config(find_recipe("shapes_size"), []).data.shape_jitter == 0.03125  # chosen on val (RESULTS.md)
    assert load_config(find_recipe("shapes_position"), []).data.shape_jitter == 0.0  # it extends shapes_size


def test_zero_shot_pairs_are_in_neither_training_split():
    for split in ("val", "test"):
        p = zero_shot_pairs(split)
        assert (np.abs(p[:, 0] - FIXED_SIZE) > 0.05).all()
        assert (np.linalg.norm(p[:, 1:] - np.array(FIXED_POS), axis=1) > 0.1).all()
    assert not set(map(tuple, zero_shot_pairs("val"))) & set(map(tuple, zero_shot_pairs("test")))


# ----------------------------------------------------------------- the algebra
def test_operators_match_the_math_on_analytic_energies():
    a, b = analytic_energy("gaussian:1,0,0.5"), analytic_energy("ring:2,0.3")
    x = torch.randn(64, 2) * 2
    ea, eb = a(x), b(x)
    torch.testing.assert_close((a & b)(x), ea + eb)
    torch.testing.assert_close((a | b)(x), -torch.logsumexp(torch.stack([-ea, -eb]), 0))
    torch.testing.assert_close(Mixture([a, b], temperature=0.1)(x), -0.1 * torch.logsumexp(torch.stack([-ea, -eb]) / 0.1, 0))
    torch.testing.assert_close((a - 0.3 * b)(x), ea - 0.3 * eb)
    torch.testing.assert_close((2 * a)(x), 2 * ea)
    torch.testing.assert_close(NOT(a, b, 0.2, 3.0)(x), 3 * ea - 0.2 * eb)
    torch.testing.assert_close(OR(a, b, weights=[2.0, 1.0])(x), -torch.logsumexp(torch.stack([-2 * ea, -eb]), 0))
    c = analytic_energy("halfplane:0,1,0.5")
    s = a & b & c
    assert isinstance(s, Sum) and len(s.terms()) == 3  # sums flatten: one term per expert
    torch.testing.assert_close(AND(a, b, c, weights=[1, 2, 3])(x), ea + 2 * eb + 3 * c(x))


class _Linear(torch.nn.Module):
    """E(x, c) = sum((x - c)^2): a conditional energy whose minimum is its condition."""

    def forward(self, x, c=None):
        return ((x - c) ** 2).sum(-1)


def test_given_binds_attributes_and_refuses_unknown_or_missing_ones():
    e = Expert(_Linear(), ("x", "y"), name="pos")
    bound = e.given(x=0.25, y=0.7)
    x = torch.zeros(5, 2)
    torch.testing.assert_close(bound(x), torch.full((5,), 0.25 ** 2 + 0.7 ** 2))
    per_sample = e.given(x=torch.tensor([0.0, 1.0]), y=0.0)
    torch.testing.assert_close(per_sample(torch.zeros(2, 2)), torch.tensor([0.0, 1.0]))
    with pytest.raises(UserError, match="not trained on attribute 'size'"):
        e.given(size=0.3, x=0.1, y=0.1)
    with pytest.raises(UserError, match="missing: y"):
        e.given(x=0.1)


def test_composites_run_with_every_registered_sampler_in_both_modes():
    a, b = analytic_energy("gaussian:1,0,0.5"), analytic_energy("gaussian:-1,0,0.5")
    for kind, cls in SAMPLERS.items():
        s = cls(steps=5, clamp=None)
        for mode in ("sum", "alternate"):
            res = sample_composite(a & b, s, torch.randn(8, 2), 5, torch.Generator().manual_seed(0), mode)
            assert res.x.shape == (8, 2) and torch.isfinite(res.x).all(), (kind, mode)


def test_summed_and_alternating_ula_both_reach_the_product_of_two_gaussians():
    """N(1, 0.5^2) x N(-1, 0.5^2) = N(0, 0.354^2) per axis; full noise per sub-step is 2x hotter (std 0.5)."""
    a, b = analytic_energy("gaussian:1,0,0.5"), analytic_energy("gaussian:-1,0,0.5")
    ula = LangevinSampler(steps=600, step_size=0.005, noise_std=0, grad_clip=0, parameterization="ula", clamp=None)
    for mode, std in (("sum", 0.5 / math.sqrt(2)), ("alternate", 0.5 / math.sqrt(2)), ("alternate-full-noise", 0.5)):
        x = sample_composite(a & b, ula, torch.randn(3000, 2) * 2, 600, torch.Generator().manual_seed(1), mode).x
        assert x.mean(0).abs().max() < 0.05, mode
        assert abs(float(x[:, 0].std()) - std) < 0.03, mode


class _Deeper(torch.nn.Module):
    def __init__(self, inner, depth):
        super().__init__()
        self.inner, self.depth = inner, depth

    def forward(self, x, cond=None):
        return self.inner(x) + self.depth


def test_calibrated_or_gives_two_wells_of_different_depth_equal_mass():
    """exp(-E_a) + exp(-E_b) with E_b = E_a(shifted) + 1.5: b holds 1/(1 + e^1.5) = 18% of the mass;
    subtracting each term's mean energy over its own samples restores 50/50."""
    from igebm.sampling.hmc import MALASampler
    from igebm.tasks.composition import calibrate_offsets

    a = analytic_energy("gaussian:-0.75,0,0.5")
    b = Wrapped(_Deeper(analytic_energy("gaussian:0.75,0,0.5"), 1.5))
    mala = MALASampler(steps=400, step_size=0.05, clamp=None)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(4000, 2, generator=g)
    share_b = lambda e: float((sample_composite(e, mala, x0.clone(), 400, g).x[:, 0] > 0).float().mean())  # noqa: E731
    tail = 0.5 * math.erfc(0.75 / 0.5 / math.sqrt(2))  # each well's mass on the other side of x = 0
    w_b = 1 / (1 + math.exp(1.5))
    assert abs(share_b(OR(a, b)) - (w_b * (1 - tail) + (1 - w_b) * tail)) < 0.03
    calibrated = calibrate_offsets(OR(a, b), mala, x0, 400, g)
    assert abs(calibrated.offsets[1] - calibrated.offsets[0] - 1.5) < 0.1
    assert abs(share_b(calibrated) - 0.5) < 0.03


def test_warm_start_samples_that_energy_first_then_the_composite():
    """ULA: 400 steps into a narrow well at (2, 0), then 20 steps towards a wide well at (2, 1). Warm-started,
    the chains end near (2, 0.8), exactly as the two stages run by hand with the same generator; without the
    warm start the composite alone leaves them short in x; either stage dropped or the two swapped would
    end elsewhere."""
    well = analytic_energy("gaussian:2,0,0.1")
    wide = analytic_energy("gaussian:2,1,0.5") & analytic_energy("gaussian:2,1,0.5")
    ula = LangevinSampler(steps=1, step_size=1e-2, grad_clip=0, parameterization="ula", clamp=None)
    x0 = torch.randn(200, 2, generator=torch.Generator().manual_seed(0)) * 0.1 - torch.tensor([2.0, 0.0])
    warm = sample_composite(wide, ula, x0, 20, torch.Generator().manual_seed(1), warm_start=well, warm_steps=400).x
    g = torch.Generator().manual_seed(1)
    placed = ula.sample(well, x0, None, steps=400, generator=g).x
    by_hand = ula.sample(wide, placed, None, steps=20, generator=g).x
    torch.testing.assert_close(warm, by_hand)
    assert (placed.mean(0) - torch.tensor([2.0, 0.0])).abs().max() < 0.05  # the warm stage reached its well
    assert abs(float(warm[:, 0].mean()) - 2.0) < 0.05 and 0.5 < float(warm[:, 1].mean()) < 0.95  # then moved on
    cold = sample_composite(wide, ula, x0, 20, torch.Generator().manual_seed(1)).x
    assert float(cold[:, 0].mean()) < 1.5


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_ancestral_or_shares_the_chains_by_mass_where_langevin_stays_in_its_basin(temperature):
    """Two far wells, b's energy 1.0 higher: b holds 1/(1 + e) = 27% of the mass at any OR temperature (near
    each well, exp(-E) is that well's density). Every chain starts in a's basin; Langevin keeps them there,
    ancestral sampling gives b its share (and 50% once calibrated)."""
    from igebm.sampling.hmc import MALASampler
    from igebm.tasks.composition import calibrate_offsets, sample_mixture

    a = analytic_energy("gaussian:-2,0,0.3")
    b = Wrapped(_Deeper(analytic_energy("gaussian:2,0,0.3"), 1.0))
    mala = MALASampler(steps=300, step_size=0.02, clamp=None)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(2000, 2, generator=g) * 0.3 - torch.tensor([2.0, 0.0])
    share_b = lambda x: float((x[:, 0] > 0).float().mean())  # noqa: E731
    either = OR(a, b, temperature=temperature)
    assert share_b(sample_composite(either, mala, x0, 300, g).x) < 0.01
    res, parts = sample_mixture(either, mala, x0, 300, g)
    assert abs(share_b(res.x) - 1 / (1 + math.e)) < 0.03
    assert share_b(res.x) == pytest.approx(float(parts.float().mean()), abs=0.01)  # the chains stay in their part
    res, _ = sample_mixture(calibrate_offsets(either, mala, x0, 300, g), mala, x0, 300, g)
    assert abs(share_b(res.x) - 0.5) < 0.03


def test_alternating_calls_each_expert_once_per_step():
    calls = []

    class Counted(Wrapped):
        def forward(self, x, cond=None):
            calls.append(id(self))
            return super().forward(x)

    a, b = Counted(analytic_energy("gaussian")), Counted(analytic_energy("ring"))
    s = AlternatingSampler.around(LangevinSampler(steps=4, clamp=None, grad_clip=0))
    s.sample(a & b, torch.randn(3, 2), steps=4, generator=torch.Generator().manual_seed(0))
    assert calls[:8] == [id(a), id(b)] * 4


def test_exact_samples_and_mmd_are_the_oracle_they_claim():
    rng = np.random.default_rng(0)
    a, b = analytic_energy("gaussian:1,0,0.5"), analytic_energy("gaussian:-1,0,0.5")
    both = exact_samples(a & b, 10000, rng, cells=400)
    np.testing.assert_allclose(both.std(0), 0.5 / math.sqrt(2), atol=0.01)
    either = exact_samples(a | b, 10000, rng, cells=400)
    assert abs((either[:, 0] > 0).mean() - 0.5) < 0.02
    x1, x2 = exact_samples(a, 1000, rng), exact_samples(a, 1000, rng)
    floor = mmd(x1, x2)
    assert 0 < floor < 0.1 and mmd(x1, x2 + 0.5) > 4 * floor


def test_readback_errors_and_shares():
    est = np.array([[0.3, 0.3, 0.3], [0.4, 0.7, 0.3]], dtype=np.float32)
    req = np.array([[0.35, 0.3, 0.34], [np.nan, 0.7, 0.3]], dtype=np.float32)
    err = readback_errors(est, req)
    assert err["size_err"] == pytest.approx(0.05, abs=1e-6) and err["pos_err"] == pytest.approx(0.02, abs=1e-6)
    assert position_shares(est, [(0.3, 0.3), (0.7, 0.3)]) == [0.5, 0.5]


def test_the_regressor_loads_back_bit_for_bit_and_a_missing_one_says_how_to_make_it(tmp_path):
    from safetensors.torch import save_file

    with pytest.raises(UserError, match="no regressor.safetensors in .*--parts train"):
        load_regressor(tmp_path)
    reg = AttributeRegressor(16)
    save_file(reg.state_dict(), str(tmp_path / "regressor.safetensors"))
    x = torch.rand(3, 1, 16, 16)
    assert torch.equal(load_regressor(tmp_path)(x), reg.eval()(x))


def test_validation_requests_never_ask_a_test_pair_and_hold_each_split_at_its_fixed_value():
    req = validation_requests(2)
    test = {tuple(np.round(r, 4)) for r in zero_shot_pairs("test")}
    assert not test & {tuple(np.round(r, 4)) for r in req["pairs"]}
    assert np.allclose(req["size_range"][:, 1:], FIXED_POS) and np.ptp(req["size_range"][:, 0]) > 0.1
    assert np.allclose(req["position_own"][:, 0], FIXED_SIZE) and np.ptp(req["position_own"][:, 1]) > 0.1


def test_requested_attributes_follow_the_operator():
    attrs = [{"size": 0.3}, {"x": 0.25, "y": 0.7}]
    vals, names = requested_attributes(attrs, "and", 2)
    assert names == ("size", "x", "y") and vals.dtype == np.float32
    np.testing.assert_allclose(vals, [[0.3, 0.25, 0.7]] * 2)
    vals, _ = requested_attributes([{"x": 0.3, "y": 0.5}, {"x": 0.7, "y": 0.5}], "or", 1)
    assert np.isnan(vals[0, 0]) and vals[0, 1] == pytest.approx(0.5)
    vals, names = requested_attributes(attrs, "not", 1)
    assert vals[0, 0] == pytest.approx(0.3) and np.isnan(vals[0, 1:]).all()
    with pytest.raises(UserError, match="exactly two"):
        build_composite([Expert(_Linear(), ("x", "y"))], [{"x": 0.1, "y": 0.1}], "not")


# ----------------------------------------------------------------- the CLI
@pytest.fixture(scope="module")
def shape_runs(tmp_path_factory):
    from igebm.training import Trainer

    root = tmp_path_factory.mktemp("shape_runs")
    runs = {}
    for name, data, size, seed in (("size", "shapes_size", 8, 0), ("pos", "shapes_position", 8, 0),
                                   ("big", "shapes_position", 12, 0), ("size_b", "shapes_size", 8, 1)):
        cfg = tiny_config(train={"max_steps": 2}, data={"name": data, "image_size": size, "dequantize": False},
                          model={"condition": "attributes"}, run={"seed": seed})
        Trainer(cfg, root / name).fit()
        runs[name] = str(root / name)
    return runs


def test_compose_writes_the_documented_npz_and_a_grid(shape_runs, tmp_path):
    out = tmp_path / "and"
    rc = main(["compose", "--expert", f"{shape_runs['size']}:size=0.3", "--expert",
               f"{shape_runs['pos']}:x=0.25,y=0.7", "--num", "6", "--steps", "3", "--out", str(out)])
    assert rc == 0
    with np.load(out / "samples.npz") as z:
        assert set(z.files) == {"images", "attributes", "attribute_names"}
        assert z["images"].shape == (6, 1, 8, 8) and z["images"].dtype == np.float32
        assert 0 <= z["images"].min() and z["images"].max() <= 1
        assert list(z["attribute_names"]) == ["size", "x", "y"]
        np.testing.assert_allclose(z["attributes"], [[0.3, 0.25, 0.7]] * 6)
    assert (out / "grid.png").stat().st_size > 0
    rc = main(["compose", "--expert", f"{shape_runs['pos']}:x=0.3,y=0.5", "--expert",
               f"{shape_runs['pos']}:x=0.7,y=0.5", "--op", "or", "--num", "2", "--steps", "2", "--mode", "alternate",
               "--out", str(tmp_path / "or")])
    assert rc == 0
    with np.load(tmp_path / "or" / "samples.npz") as z:
        assert list(z["attribute_names"]) == ["x", "y"]
        assert np.isnan(z["attributes"][:, 0]).all() and (z["attributes"][:, 1] == np.float32(0.5)).all()


def test_compose_warm_start_and_ancestral_change_the_chains(shape_runs, tmp_path, capsys):
    """Same seed and steps with and without each flag: the samples differ, and the command says how it began."""
    def run(name, *extra):
        capsys.readouterr()
        rc = main(["compose", "--expert", f"{shape_runs['pos']}:x=0.3,y=0.5", "--expert",
                   f"{shape_runs['pos']}:x=0.7,y=0.5", *extra, "--num", "3", "--steps", "2", "--seed", "4",
                   "--out", str(tmp_path / name)])
        assert rc == 0
        with np.load(tmp_path / name / "samples.npz") as z:
            assert z["images"].shape == (3, 1, 8, 8)
            return z["images"], capsys.readouterr().out

    plain, _ = run("and")
    warm, said = run("warm", "--warm-start", "2", "--warm-steps", "3")
    assert not np.allclose(plain, warm) and "3 steps of expert 2 alone, then 2 steps" in said
    plain, _ = run("or", "--op", "or")
    ancestral, said = run("ancestral", "--op", "or", "--ancestral", "--warm-steps", "3")
    assert not np.allclose(plain, ancestral) and "chains started per OR part" in said
    started = [int(n) for n in said.split("by estimated mass): ")[1].splitlines()[0].split(", ")]
    assert sum(started) == 3 and len(started) == 2


def test_a_seed_ensemble_expert_is_the_mean_energy_of_its_members(shape_runs, tmp_path):
    from igebm.tasks.composition import expert_from_run, expert_from_runs
    from igebm.training import load_run

    a, b = load_run(shape_runs["size"]), load_run(shape_runs["size_b"])
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    sizes = torch.linspace(0.25, 0.6, 5)
    with torch.no_grad():
        ea, eb = (expert_from_run(r).given(size=sizes)(x) for r in (a, b))
        mean = expert_from_runs([a, b]).given(size=sizes)(x)
    assert not torch.allclose(ea, eb)  # two seeds, two energies
    torch.testing.assert_close(mean, (ea + eb) / 2)

    def compose(name, expert):
        assert main(["compose", "--expert", expert, "--num", "3", "--steps", "3", "--out", str(tmp_path / name)]) == 0
        with np.load(tmp_path / name / "samples.npz") as z:
            return z["images"]

    alone = compose("alone", f"{shape_runs['size']}:size=0.3")
    np.testing.assert_array_equal(compose("twice", f"{shape_runs['size']}+{shape_runs['size']}:size=0.3"), alone)
    assert not np.allclose(compose("both", f"{shape_runs['size']}+{shape_runs['size_b']}:size=0.3"), alone)


@pytest.mark.parametrize("case,message", [
    ("shapes", "share one input shape"),
    ("ensemble_mixed", "the members of one expert must be runs of one recipe (seeds)"),
    ("ensemble_malformed", "malformed run list"),
    ("ensemble_shapes", "share one input shape"),
    ("untrained", "not trained on attribute 'x'"),
    ("malformed", "malformed KEY=VALUE"),
    ("not_number", "malformed KEY=VALUE"),
    ("not_one", "--op not needs two experts"),
    ("calibrate_and", "--calibrate applies to --op or"),
    ("warm_out_of_range", "--warm-start 3: give the number of an expert, 1 to 2"),
    ("ancestral_and", "--ancestral applies to --op or only"),
    ("warm_steps_alone", "--warm-steps sets the first stage"),
    ("warm_or", "--warm-start applies to --op and/not"),
    ("warm_negated", "--warm-start 2 with --op not would start the chains where the negated expert is low"),
    ("ancestral_mode", "--ancestral samples with the summed gradient; drop --mode alternate"),
])
def test_compose_bad_input_is_one_line_and_exit_2(shape_runs, tmp_path, capsys, case, message):
    s, p, big = shape_runs["size"], shape_runs["pos"], shape_runs["big"]
    experts = {"shapes": [f"{s}:size=0.3", f"{big}:x=0.3,y=0.3"],
               "ensemble_mixed": [f"{s}+{p}:size=0.3"],
               "ensemble_malformed": [f"{s}+:size=0.3"],
               "ensemble_shapes": [f"{p}+{big}:x=0.3,y=0.3"],
               "untrained": [f"{s}:size=0.3,x=0.3"],
               "malformed": [f"{s}:size0.3"],
               "not_number": [f"{s}:size=big"],
               "not_one": [f"{s}:size=0.3"],
               "calibrate_and": [f"{s}:size=0.3", f"{p}:x=0.3,y=0.3"]}.get(case, [f"{s}:size=0.3", f"{p}:x=0.3,y=0.3"])
    argv = ["compose", *sum((["--expert", e] for e in experts), []), "--num", "2", "--steps", "1",
            "--out", str(tmp_path / "x")]
    if case == "not_one":
        argv += ["--op", "not"]
    argv += {"calibrate_and": ["--calibrate"], "warm_out_of_range": ["--warm-start", "3"],
             "ancestral_and": ["--ancestral"], "warm_steps_alone": ["--warm-steps", "5"],
             "warm_or": ["--op", "or", "--warm-start", "1"], "warm_negated": ["--op", "not", "--warm-start", "2"],
             "ancestral_mode": ["--op", "or", "--ancestral", "--mode", "alternate"]}.get(case, [])
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "x").exists()


def test_flow2d_draws_the_picture_and_the_gif(tmp_path, capsys):
    out = tmp_path / "flow.png"
    rc = main(["flow2d", "--energy", "ring:2,0.25", "--energy", "halfplane:1,0,0", "--steps", "20",
               "--grid", "3", "--out", str(out), "--gif"])
    assert rc == 0 and out.stat().st_size > 0 and out.with_suffix(".gif").stat().st_size > 0
    assert main(["flow2d", "--energy", "gaussian:1,0", "--energy", "gaussian:-1,0", "--op", "not", "--steps", "5",
                 "--grid", "2", "--out", str(tmp_path / "not.png")]) == 0
    capsys.readouterr()
    assert main(["flow2d", "--energy", "blob", "--out", str(tmp_path / "bad.png")]) == 2
    assert "unknown analytic energy 'blob'" in capsys.readouterr().err
    assert main(["flow2d", "--energy", "ring", "--op", "not", "--out", str(tmp_path / "bad.png")]) == 2


def test_coord_channels_add_two_input_maps_and_old_configs_default_to_none():
    from igebm.models import PRESETS, IGEBMResNet
    from igebm.models.config import ModelConfig

    assert ModelConfig().coord_channels is False
    a = torch.from_numpy(render("square", [0.3, 0.3], [0.35, 0.65], [0.5, 0.5]))
    for coords in (False, True):
        net = IGEBMResNet(1, PRESETS["resnet-digits"], 0, use_spectral_norm=False, coord_channels=coords)
        assert net.stem.in_channels == 1 + 2 * coords
        assert net(a).shape == (2,)


def test_the_shapes_recipes_load_and_train_a_step(tmp_path):
    from igebm.config import load_config
    from igebm.recipes import find_recipe, recipe_summary
    from igebm.training import Trainer

    for name, attrs, coords, inv in (("shapes_size", ("size",), False, "translation"),
                                     ("shapes_position", ("x", "y"), True, "none")):
        assert recipe_summary(name).startswith(f"igebm train {name}")
        cfg = load_config(find_recipe(name), ["train.batch_size=4", "train.max_steps=1", "buffer.capacity=8",
                                              "sampler.steps=1", "model.channels=4", "train.progress=false",
                                              "train.tensorboard=false"])
        assert cfg.data.name == name and cfg.model.coord_channels is coords and cfg.model.invariance == inv
        trainer = Trainer(cfg, tmp_path / name)
        assert trainer.cond_spec.attribute_names == attrs
        assert trainer.fit()["step"] == 1


def test_the_report_section_says_how_the_chains_started():
    from igebm.report.sections.composition import composition_section

    base = {"split": "test", "steps": 300, "mode": "sum", "zero_shot": {"AND": {"size_err": 0.02, "pos_err": 0.05}}}
    warm = composition_section({**base, "warm_steps": 100, "and_weights": [32.0, 1.0]}, []).text
    cold = composition_section(base, []).text
    assert "position expert alone for 100 steps" in warm and "[32.0, 1.0]" in warm
    assert "from noise" in cold and "alone" not in cold
    seeds = composition_section({**base, "size_runs": ["s0", "s1"], "position_runs": ["p0"]}, []).text
    assert "size expert s0 + s1" in seeds and "Seed ensembles" not in cold
