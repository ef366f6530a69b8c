"""Trajectories (issue 12): the particle simulator, datasets on disk, rollouts, the CLI's bad inputs."""

import importlib.util
import json

import numpy as np
import pytest

from igebm.cli import main
from igebm.data.particles import PARAMS, kinetic_energy, simulate_particles
from igebm.data.trajectories import (Trajectories, cache_path, generate_trajectories, read_trajectories,
                                     save_trajectories, split_index)
from igebm.errors import UserError

HAVE_MUJOCO = importlib.util.find_spec("mujoco") is not None and importlib.util.find_spec("gymnasium_robotics") is not None


def test_simulator_conserves_energy_between_kicks_and_stays_in_the_box():
    states, kicks = simulate_particles(200, 80, seed=3)
    P = len(PARAMS["radius"])
    ke = kinetic_energy(states.astype(np.float64), P)
    kicked = kicks[:, 1:].any(-1)
    assert kicked.any() and (~kicked).any()
    change = np.abs(np.diff(ke, axis=1))
    assert change[~kicked].max() < 1e-5  # elastic walls and collisions: exact between kicks
    assert change[kicked].max() > 1e-3  # kicks do change it
    s = states.reshape(200, 80, P, 4)
    r = np.asarray(PARAMS["radius"])
    for axis, size in enumerate(PARAMS["box"]):
        assert (s[..., axis] >= r - 1e-6).all() and (s[..., axis] <= size - r + 1e-6).all()
    # collisions happen and particles do not pass through each other (within a small tolerance)
    d01 = np.linalg.norm(s[..., 0, :2] - s[..., 1, :2], axis=-1)
    assert d01.min() > r[0] + r[1] - 0.02


def test_simulator_is_seeded():
    a, _ = simulate_particles(5, 20, seed=1)
    b, _ = simulate_particles(5, 20, seed=1)
    c, _ = simulate_particles(5, 20, seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_splits_are_whole_trajectories_90_10_with_validation_from_train():
    test, val, train = (split_index(100, s, 0.15) for s in ("test", "val", "train"))
    assert len(test) == 10 and len(set(test) | set(val) | set(train)) == 100
    assert not (set(test) & set(val)) and not (set(val) & set(train)) and not (set(test) & set(train))


def test_dataset_files_refuse_other_simulators_and_truncation(tmp_path):
    path, traj = generate_trajectories("particles", 12, 6, 0, str(tmp_path), progress=False)
    assert path == cache_path("particles", 12, 6, 0, str(tmp_path)) and path.is_file()
    assert read_trajectories(path, "particles").states.shape == (12, 6, 12)
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, no leftovers
    other = tmp_path / "other.npz"
    save_trajectories(other, Trajectories(traj.states, traj.state_names, "hand", {}), 0)
    with pytest.raises(UserError, match="'hand' simulator"):
        read_trajectories(other, "particles")
    cut = tmp_path / "cut.npz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(UserError, match="truncated"):
        read_trajectories(cut, "particles")


@pytest.fixture(scope="module")
def particles_run(tmp_path_factory):
    from igebm.config import load_config
    from igebm.recipes import find_recipe
    from igebm.training import Trainer

    root = tmp_path_factory.mktemp("traj")
    cfg = load_config(find_recipe("particles"), [
        f"data.root={root / 'data'}", "data.traj_num=40", "data.traj_length=30", "model.hidden=32",
        "sampler.steps=3", "buffer.capacity=64", "train.batch_size=16", "train.max_steps=4", "train.progress=false",
        "train.checkpoint_every=2"])
    Trainer(cfg, root / "run").fit()
    return root


def test_rollout_writes_npz_figure_and_gif(particles_run, capsys):
    out = particles_run / "roll"
    rc = main(["rollout", str(particles_run / "run"), "--start", "test:1", "--horizon", "25", "--samples", "3",
               "--steps", "2", "--ff-steps", "20", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    with np.load(out / "rollouts.npz") as f:
        assert f["ebm"].shape == (3, 26, 12)
        assert f["feedforward"].shape == (26, 12) and f["truth"].shape == (26, 12)
        assert list(f["state_names"][:5]) == ["p0.x", "p0.y", "p0.vx", "p0.vy", "p1.x"]
        assert f["box"].tolist() == [1.0, 1.0] and f["radius"].shape == (3,)
        assert np.allclose(f["ebm"][:, 0], f["truth"][0]) and np.allclose(f["feedforward"][0], f["truth"][0])
    assert (out / "rollouts.png").stat().st_size > 1000 and (out / "rollouts.gif").stat().st_size > 1000
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["ebm_diversity"] > 0 and "ebm_error_best_of_samples_ORACLE" in summary
    # without flags, the recipe's [rollout] settings (picked on validation) apply; a flag overrides one of them
    assert (summary["steps"], summary["init"], summary["temperature"], summary["constraint"]) == (2, "noise", 0.3, 10.0)
    rc = main(["rollout", str(particles_run / "run"), "--start", "test:1", "--horizon", "3", "--samples", "2",
               "--ff-steps", "20", "--init", "base", "--constraint", "1", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((out / "metrics.json").read_text())
    assert (summary["steps"], summary["init"], summary["temperature"], summary["constraint"]) == (30, "base", 0.3, 1.0)


@pytest.mark.parametrize("args,message", [
    (["--start", "test:0", "--horizon", "0"], "--horizon must be at least 1"),
    (["--start", "test:4", "--horizon", "5"], "out of range"),
    (["--start", "test:-1", "--horizon", "5"], "out of range"),
    (["--start", "tst:1", "--horizon", "5"], "--start must look like"),
    (["--start", "test:0", "--horizon", "500"], "longer than the trajectories"),
    (["--start", "test:0", "--horizon", "5", "--constraint", "-1"], "--constraint must be a finite weight"),
    (["--start", "test:0", "--horizon", "5", "--constraint", "nan"], "--constraint must be a finite weight"),
    (["--start", "test:0", "--horizon", "5", "--temperature", "0"], "--temperature"),
])
def test_rollout_bad_inputs_exit_2_with_one_line(particles_run, capsys, args, message):
    rc = main(["rollout", str(particles_run / "run"), *args, "--samples", "2", "--steps", "1", "--ff-steps", "20",
               "--out", str(particles_run / "bad")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


def test_rollout_refuses_a_run_of_another_dataset(tiny_run_dir, capsys):
    rc = main(["rollout", str(tiny_run_dir), "--start", "test:0", "--horizon", "5"])
    err = capsys.readouterr().err
    assert rc == 2 and "not a trajectory dataset" in err and len(err.strip().splitlines()) == 1


def test_training_refuses_a_dataset_file_from_another_simulator_or_truncated(tmp_path, capsys):
    _, traj = generate_trajectories("particles", 12, 6, 0, str(tmp_path), progress=False)
    other = tmp_path / "hand_file.npz"
    save_trajectories(other, Trajectories(traj.states, traj.state_names, "hand", {}), 0)
    rc = main(["train", "particles", "--set", f"data.root={other}", "--set", "data.traj_num=12",
               "--set", "data.traj_length=6", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "'hand' simulator" in err and len(err.strip().splitlines()) == 1
    cut = tmp_path / "cut.npz"
    cut.write_bytes(other.read_bytes()[:100])
    rc = main(["train", "particles", "--set", f"data.root={cut}", "--out", str(tmp_path / "r2")])
    err = capsys.readouterr().err
    assert rc == 2 and "truncated" in err and len(err.strip().splitlines()) == 1


def test_data_command_writes_the_cache(tmp_path, capsys):
    rc = main(["data", "particles", "--num", "10", "--length", "5", "--out", str(tmp_path)])
    assert rc == 0 and (tmp_path / "particles_n10_t5_seed0.npz").is_file()


def test_feasibility_and_metrics_on_the_truth():
    from igebm.data.trajectories import TrajectoryStats
    from igebm.evaluation.trajectories import particle_validity, summarise

    states, _ = simulate_particles(20, 30, seed=0)
    meta = {**PARAMS, "ke_max": 0.5 * 3 * PARAMS["speed_max"] ** 2}
    assert particle_validity(states, meta)["valid"].mean() == 1.0
    bad = states.copy()
    bad[..., 0] = -1.0  # p0 outside the box
    assert particle_validity(bad, meta)["in_box"].mean() == 0.0
    stats = TrajectoryStats.of(states)
    truth = states[:, 1:]
    ebm = np.repeat(truth[:, None], 4, 1) + 0.01 * np.random.default_rng(0).standard_normal((20, 4, 29, 12))
    r = summarise("particles", ebm.astype(np.float32), truth, truth, stats, horizons=(1, 10))
    h = r["by_horizon"]["10"]
    assert h["feedforward_error"] == 0.0 and h["ebm_diversity"] > 0 and h["ebm_coverage"] == 1.0
    assert h["ebm_error_best_of_samples_ORACLE"] <= h["ebm_error_mean_of_samples"]
    assert r["ebm_stable"] == 1.0


def test_hand_without_mujoco_names_the_extra(capsys, tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "mujoco", None)  # as if the [hand] extra were not installed
    rc = main(["data", "hand", "--num", "10", "--length", "5", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "[hand]" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not HAVE_MUJOCO, reason="needs the [hand] extra (mujoco, gymnasium-robotics)")
def test_hand_simulator_and_replay():
    from igebm.data.hand import HandGeometry, simulate_hand

    states, names, meta = simulate_hand(2, 8, seed=0)
    assert states.shape == (2, 8, 55) and names[-7:][0] == "block.x" and np.isfinite(states).all()
    geom = HandGeometry()
    assert geom.within_joint_limits(states).all()
    assert geom.points(states[0]).shape == (8, 6, 3)
    assert (geom.palm_penetration(states[0]) < 0.005).all()


def test_trajectory_energy_slopes_back_toward_the_data_far_away():
    import torch

    from igebm.config import load_config
    from igebm.models import ConditionSpec, build_model
    from igebm.recipes import find_recipe

    cfg = load_config(find_recipe("particles"), ["model.arch=mlp-traj", "model.hidden=16"])
    spec = ConditionSpec("attributes", attribute_names=tuple(f"h{i}" for i in range(24)))
    energy = build_model(cfg.model, (12,), spec)
    c = torch.zeros(4, 24)
    near, far = torch.zeros(4, 12), torch.full((4, 12), 30.0)
    with torch.no_grad():
        assert (energy(far, c) > energy(near, c) + 100).all()
    with pytest.raises(UserError, match="history"):
        build_model(cfg.model, (12,), ConditionSpec())


def test_warm_start_is_the_last_step_change_and_trains(tmp_path):
    """`buffer.start = warm`: chains start at the history's own last change (exactly, on clean windows)."""
    import torch

    from igebm.config import load_config
    from igebm.data.registry import load_dataset
    from igebm.data.trajectories import TrajectoryStats, previous_change
    from igebm.recipes import find_recipe
    from igebm.training import Trainer

    overrides = [f"data.root={tmp_path / 'data'}", "data.traj_num=20", "data.traj_length=12", "data.traj_noise=0",
                 "model.hidden=16", "sampler.steps=2", "train.batch_size=8", "train.max_steps=3",
                 "train.progress=false", "buffer.start=warm"]
    cfg = load_config(find_recipe("particles"), overrides)
    data = load_dataset(cfg.data, "train")
    traj = generate_trajectories("particles", 20, 12, 0, str(tmp_path / "data"), progress=False)[1]
    stats = TrajectoryStats.of(traj.subset(split_index(20, "train", cfg.data.val_fraction)).states)
    hist = torch.from_numpy(data.attributes[:50])
    start = data.warm_start(hist, torch.Generator())
    # with a clean history, window i+1's previous change is window i's target (within a trajectory)
    assert torch.allclose(start[1:9], torch.from_numpy(data.x[0:8]), atol=1e-4)
    assert torch.allclose(previous_change(hist, stats, traj.dim), start)
    Trainer(cfg, tmp_path / "run").fit()  # trains without touching the buffer


def test_warm_start_on_a_dataset_without_one_is_one_line(tmp_path, capsys):
    rc = main(["train", "digits", "--set", "buffer.start=warm", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "no warm start" in err and len(err.strip().splitlines()) == 1
    rc = main(["train", "digits", "--set", "buffer.start=hot", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "buffer.start" in err and len(err.strip().splitlines()) == 1


def test_simulator_restarts_exactly_from_a_given_state():
    """`start=`: without kicks the dynamics are deterministic, so a restart from frame 5 repeats frames 5.. exactly;
    with kicks, futures from one state branch (the benchmark's perfect-model reference)."""
    calm = {"kick_prob": 0.0}
    a, _ = simulate_particles(4, 20, seed=3, params=calm)
    b, _ = simulate_particles(4, 15, seed=9, params=calm, start=a[:, 5])
    assert np.allclose(a[:, 5:], b, atol=1e-5)
    many, _ = simulate_particles(8, 40, seed=1, start=np.repeat(a[:1, 5], 8, 0))
    assert np.allclose(many[:, 0], a[0, 5], atol=1e-6) and many[:, -1].std(0).max() > 0.01


def test_energy_score_ranks_the_true_distribution_first_where_the_mean_error_prefers_shrinkage():
    """Futures drawn from the truth's own law beat shrunk ones and the point at the mean on the energy score,
    though the shrunk ones have the lower mean-of-S error; the simulator columns score like the EBM's."""
    from igebm.data.trajectories import TrajectoryStats
    from igebm.evaluation.trajectories import summarise

    rng = np.random.default_rng(0)
    B, S, T, D = 400, 8, 2, 12
    stats = TrajectoryStats(np.zeros(D), np.ones(D), np.zeros(D), np.ones(D), -5 * np.ones(D), 5 * np.ones(D))
    truth = rng.standard_normal((B, T + 1, D))
    true_law = rng.standard_normal((B, S, T + 1, D))
    shrunk = 0.3 * rng.standard_normal((B, S, T + 1, D))
    point = np.zeros((B, T + 1, D))
    a = summarise("x", true_law, point, truth, stats, horizons=(1,), simulated=true_law)["by_horizon"]["1"]
    b = summarise("x", shrunk, point, truth, stats, horizons=(1,))["by_horizon"]["1"]
    assert b["ebm_error_mean_of_samples"] < a["ebm_error_mean_of_samples"]
    assert a["ebm_energy_score"] < b["ebm_energy_score"] < a["feedforward_energy_score"]
    assert a["simulator_energy_score"] == a["ebm_energy_score"]
    assert abs(a["ebm_energy_score"] / a["feedforward_energy_score"] - 2 ** -0.5) < 0.03  # (sqrt 2 - sqrt 2 / 2) / 1
