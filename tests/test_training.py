import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_config
from safetensors.torch import load_file

from igebm.data.digits import load_digits_split
from igebm.errors import UserError
from igebm.training import Trainer, TrainingDiverged, cd_loss, clip_grads_igebm, load_run
from igebm.training import checkpoint as ckpt


def final_weights(run_dir: Path) -> dict:
    return load_file(str(ckpt.latest_checkpoint(run_dir / "checkpoints") / "model.safetensors"))


def test_cd_loss_matches_the_formula():
    e_pos, e_neg = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    loss, stats = cd_loss(e_pos, e_neg, l2_alpha=0.5)
    assert loss.item() == pytest.approx((2 - (-1)) + 0.5 * (5 + 2))
    assert stats["gap"] == pytest.approx(-3.0)


def test_igebm_clip_bounds_each_element():
    p = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.Adam([p], betas=(0.0, 0.999))
    p.grad = torch.tensor([5.0, -5.0, 0.01])
    clip_grads_igebm(opt)  # no state yet: floor of 0.1
    assert torch.allclose(p.grad, torch.tensor([0.1, -0.1, 0.01]))
    opt.step()
    p.grad = torch.tensor([100.0, 0.0, 0.0])
    clip_grads_igebm(opt)
    v_hat = opt.state[p]["exp_avg_sq"] / (1 - 0.999)
    assert p.grad[0] == pytest.approx(float(3 * v_hat[0].sqrt() + 0.1))


def test_training_separates_data_from_samples(tmp_path):
    cfg = tiny_config(train={"max_steps": 40, "lr": 1e-3})
    Trainer(cfg, tmp_path / "r").fit()
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 40
    assert {"loss", "e_pos", "e_neg", "gap", "grad_norm", "fresh_frac"} <= set(rows[-1])
    run = load_run(tmp_path / "r")
    test = load_digits_split("test")
    with torch.no_grad():
        e_data = run.energy(torch.from_numpy(test.x), torch.from_numpy(test.y)).mean()
        e_noise = run.energy(torch.rand(len(test), 1, 8, 8), torch.from_numpy(test.y)).mean()
    assert e_data < e_noise  # the energy learned something about digits
    assert (tmp_path / "r" / "config.json").exists()


def test_load_run_takes_an_older_checkpoint_when_asked(tmp_path):
    from igebm.training.checkpoint import list_checkpoints

    Trainer(tiny_config(), tmp_path / "r").fit()  # checkpoints at steps 3 and 6
    first, last = list_checkpoints(tmp_path / "r" / "checkpoints")
    old, new = load_run(tmp_path / "r", checkpoint=first), load_run(tmp_path / "r")
    assert (old.step, new.step) == (3, 6)
    assert any(not torch.equal(a, b) for a, b in zip(old.energy.state_dict().values(), new.energy.state_dict().values()))


def test_resume_equals_uninterrupted(tmp_path):
    cfg = tiny_config()
    Trainer(cfg, tmp_path / "full").fit()
    part = Trainer(cfg, tmp_path / "part")
    part.fit(max_steps=3)
    Trainer(cfg, tmp_path / "part", resume=True).fit()
    a, b = final_weights(tmp_path / "full"), final_weights(tmp_path / "part")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    full_log = (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
    part_log = (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()
    strip = lambda rows: [{k: v for k, v in json.loads(r).items() if k not in ("time", "it_per_s")} for r in rows]
    assert strip(full_log) == strip(part_log)


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    """Kill a real `igebm train` process with SIGKILL mid-run, resume it, compare weights."""
    sets = ["model.channels=8", "sampler.steps=3", "buffer.capacity=64", "train.batch_size=16",
            "train.max_steps=40", "train.checkpoint_every=5", "train.progress=false", "train.tensorboard=false",
            "train.sample_every=1000"]
    args = [sys.executable, "-m", "igebm", "train", "digits"] + [a for s in sets for a in ("--set", s)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(args + ["--out", str(tmp_path / "full")], check=True, env=env, capture_output=True)
    proc = subprocess.Popen(args + ["--out", str(tmp_path / "killed")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckdir = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and not (ckdir / "step_0000015").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    last = ckpt.latest_checkpoint(ckdir)
    assert last is not None and int(last.name[5:]) < 40, "the run finished before it could be killed"
    subprocess.run(args + ["--out", str(tmp_path / "killed"), "--resume"], check=True, env=env, capture_output=True)
    a, b = final_weights(tmp_path / "full"), final_weights(tmp_path / "killed")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_refuses_to_overwrite_and_to_resume_nothing(tmp_path):
    cfg = tiny_config(train={"max_steps": 3})
    Trainer(cfg, tmp_path / "r").fit()
    with pytest.raises(UserError, match="--resume"):
        Trainer(cfg, tmp_path / "r")
    with pytest.raises(UserError, match="does not exist"):
        Trainer(cfg, tmp_path / "nope", resume=True)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    cfg = tiny_config(train={"max_steps": 3})
    Trainer(cfg, tmp_path / "r").fit()
    last = ckpt.latest_checkpoint(tmp_path / "r" / "checkpoints")
    (last / "ema.safetensors").write_bytes(b"garbage")
    with pytest.raises(UserError, match="corrupt"):
        load_run(tmp_path / "r")
    with pytest.raises(UserError, match="corrupt"):
        Trainer(cfg, tmp_path / "r", resume=True)


def test_keeps_only_the_last_checkpoints(tmp_path):
    cfg = tiny_config(train={"max_steps": 12, "checkpoint_every": 2, "keep_checkpoints": 2})
    Trainer(cfg, tmp_path / "r").fit()
    names = [p.name for p in ckpt.list_checkpoints(tmp_path / "r" / "checkpoints")]
    assert names == ["step_0000010", "step_0000012"]


def test_divergence_stops_with_advice_or_rolls_back(tmp_path):
    cfg = tiny_config(train={"max_steps": 6, "divergence_energy": 1e-9})
    with pytest.raises(TrainingDiverged, match="diverged at step 1"):
        Trainer(cfg, tmp_path / "a").fit()
    cfg = tiny_config(train={"max_steps": 3})
    Trainer(cfg, tmp_path / "b").fit()
    cfg = tiny_config(train={"max_steps": 8, "on_divergence": "rollback", "max_rollbacks": 2,
                             "divergence_energy": 1e-9})
    with pytest.raises(TrainingDiverged):
        Trainer(cfg, tmp_path / "b", resume=True).fit()
    rows = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["rollbacks"] for r in rows if r.get("event") == "rollback"] == [1, 2]


def test_toy2d_mlp_trains(tmp_path):
    cfg = tiny_config(data={"name": "toy2d", "toy_size": 2000}, model={"arch": "mlp", "conditional": False},
                      sampler={"step_size": 0.05, "noise_std": 0.1, "grad_clip": 0.0, "clamp": False})
    Trainer(cfg, tmp_path / "t").fit()
    run = load_run(tmp_path / "t")
    assert run.dataset("train").shape == (2,)


def test_one_step_of_each_cifar_recipe(tmp_path):
    from formats_fixtures import write_cifar10_binary

    from igebm.config import load_config
    from igebm.recipes import RECIPE_DIR
    write_cifar10_binary(tmp_path / "cifar", n_per_batch=4, batches=1)
    for name in ("cifar10", "cifar10_uncond"):
        cfg = load_config(RECIPE_DIR / f"{name}.toml", [
            f"data.root={tmp_path / 'cifar'}", "train.batch_size=2", "train.max_steps=1", "buffer.capacity=4",
            "sampler.steps=1", "train.progress=false", "train.tensorboard=false"])
        summary = Trainer(cfg, tmp_path / name).fit()
        assert summary["step"] == 1 and np.isfinite(summary["loss"])


def test_classification_term_is_softmax_of_negative_energies_and_is_trained(tmp_path):
    """ce = cross-entropy of softmax_y(-E(x, y) / T); with train.ce_alpha > 0 it enters the update."""
    from igebm.training.losses import classification_loss
    cfg = tiny_config(train={"max_steps": 1, "ce_alpha": 1.0, "ce_batch": 16})
    trainer = Trainer(cfg, tmp_path / "ce")
    x, y = torch.from_numpy(trainer.data.x[:8]), torch.from_numpy(trainer.data.y[:8])
    loss, stats = classification_loss(trainer.model, x, y, 10, temperature=0.5)
    with torch.no_grad():
        energies = torch.stack([trainer.model(x, torch.full((8,), c)) for c in range(10)], 1)
    expected = torch.nn.functional.cross_entropy(-energies / 0.5, y)
    assert torch.allclose(loss, expected, atol=1e-5)
    assert stats["train_acc"] == float(((-energies).argmax(1) == y).float().mean())
    trainer.fit()
    plain = Trainer(tiny_config(train={"max_steps": 1}), tmp_path / "plain")
    plain.fit()  # same seed, same data and chains: only the classification term differs
    a, b = final_weights(tmp_path / "ce"), final_weights(tmp_path / "plain")
    assert any(not torch.equal(a[k], b[k]) for k in a)
    row = json.loads((tmp_path / "ce" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "ce" in row and "train_acc" in row
