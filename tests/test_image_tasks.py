"""Completion, restoration, morphing and the steps curve: helpers, commands, bad input, demo wiring."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from igebm.cli import main
from igebm.errors import UserError
from igebm.report.sections import images as image_suite
from igebm.evaluation.baselines.completion import completion_baselines
from igebm.evaluation.images import completion_metrics, hidden_mse
from igebm.tasks.images.complete import complete
from igebm.tasks.images.chain import Chain, condition_labels, min_energy_labels
from igebm.tasks.images.inputs import ImageInputs, read_inputs
from igebm.tasks.images.masks import corrupt, parse_mask
from igebm.tasks.images.morph import morph
from igebm.training import Trainer, load_run
from conftest import tiny_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny conditional digits run whose judge trains in a second (the CLI's morph/steps-curve need one)."""
    out = tmp_path_factory.mktemp("runs") / "tiny_images"
    Trainer(tiny_config(train={"max_steps": 3}, eval={"judge_epochs": 1}), out).fit()
    return out


@pytest.fixture(scope="module")
def run(run_dir):
    return load_run(run_dir)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# --- masks, corruptions, inputs -------------------------------------------------------------

def test_named_masks():
    m = parse_mask("bottom-half", (2, 1, 8, 8))
    assert m.shape == (2, 1, 8, 8) and m[:, 0, 4:].all() and not m[:, 0, :4].any()
    assert parse_mask("top-half", (1, 1, 8, 8))[0, 0, :4].all() and parse_mask("top-half", (1, 1, 8, 8)).sum() == 32
    assert parse_mask("left-half", (1, 1, 8, 8))[0, 0, :, :4].all() and parse_mask("right-half", (1, 1, 8, 8))[0, 0, :, 4:].all()
    box = parse_mask("center-box", (1, 3, 8, 8))
    assert box[0, :, 2:6, 2:6].all() and box.sum() == 3 * 16


def test_random_mask_hides_the_fraction_per_image_on_all_channels():
    m = parse_mask("random:0.3", (20, 3, 16, 16), seed=1)
    assert abs(m.mean() - 0.3) < 0.03
    assert (m[:, 0] == m[:, 2]).all()  # a hidden pixel is hidden in every channel
    assert not (m[0] == m[1]).all()  # each image draws its own
    with pytest.raises(UserError, match="fraction"):
        parse_mask("random:1.5", (1, 1, 8, 8))


def test_mask_files(tmp_path):
    diag = np.eye(8, dtype=bool)
    np.save(tmp_path / "m.npy", diag)
    np.savez(tmp_path / "m.npz", mask=diag[None].astype(np.uint8))
    Image.fromarray((diag * 255).astype(np.uint8)).save(tmp_path / "m.png")
    for name in ("m.npy", "m.npz", "m.png"):
        m = parse_mask(str(tmp_path / name), (3, 1, 8, 8))
        assert m.shape == (3, 1, 8, 8) and (m == diag).all(), name
    np.save(tmp_path / "wrong.npy", np.ones((5, 5), bool))
    with pytest.raises(UserError, match=r"has shape \(5, 5\)"):
        parse_mask(str(tmp_path / "wrong.npy"), (1, 1, 8, 8))
    np.save(tmp_path / "empty.npy", np.zeros((8, 8), bool))
    with pytest.raises(UserError, match="hides no pixels"):
        parse_mask(str(tmp_path / "empty.npy"), (1, 1, 8, 8))
    with pytest.raises(UserError, match="unknown mask"):
        parse_mask("diagonal", (1, 1, 8, 8))


def test_salt_and_pepper_follows_the_paper():
    x = np.full((50, 1, 32, 32), 0.5, np.float32)
    bad = corrupt("salt-pepper:0.1", x)
    assert abs((bad == np.float32(0.1)).mean() - 0.05) < 0.01
    assert abs((bad == np.float32(0.9)).mean() - 0.05) < 0.01
    assert abs((bad == 0.5).mean() - 0.9) < 0.01
    assert np.array_equal(corrupt("salt-pepper", x), bad)  # P = 0.1 by default


def test_other_corruptions():
    x = np.full((10, 1, 8, 8), 0.2, np.float32)
    g = corrupt("gaussian:0.05", x)
    assert 0.03 < (g - x).std() < 0.07 and g.min() >= 0
    b = corrupt("box", x)
    assert ((b == 0.5).sum((1, 2, 3)) == 16).all()  # a 4x4 grey box in each 8x8 image
    for spec in ("gaussian:-1", "speckle"):
        with pytest.raises(UserError):
            corrupt(spec, x)


def test_read_inputs_from_npz(run, tmp_path):
    x = run.dataset("test").x[:3]
    np.savez(tmp_path / "hw.npz", images=x[:, 0])  # (N, H, W) grayscale is accepted
    got = read_inputs(run, str(tmp_path / "hw.npz"), None)
    assert got.images.shape == (3, 1, 8, 8) and got.labels is None
    np.savez(tmp_path / "uncond.npz", images=x, labels=np.full(3, -1))  # what `igebm sample` writes when unconditional
    assert read_inputs(run, str(tmp_path / "uncond.npz"), None).labels is None
    np.savez(tmp_path / "lab.npz", images=x, labels=np.array([1, 2, 3]))
    assert read_inputs(run, str(tmp_path / "lab.npz"), None, num=2).labels.tolist() == [1, 2]
    np.savez(tmp_path / "range.npz", images=x * 2)
    with pytest.raises(UserError, match=r"in \[0, 1\]"):
        read_inputs(run, str(tmp_path / "range.npz"), None)
    with pytest.raises(UserError, match="exactly one"):
        read_inputs(run, None, None)


# --- labels and chains ------------------------------------------------------------------------

def test_min_energy_labels_pick_the_lowest_energy():
    target = torch.tensor([0.0, 0.5, 1.0])  # class c has lowest energy near brightness target[c]
    energy = lambda x, y: (x.mean((1, 2, 3)) - target[y]) ** 2  # noqa: E731
    fake = SimpleNamespace(energy=energy, num_classes=3, conditional=True, labelled=True)
    x = torch.stack([torch.full((1, 4, 4), v) for v in (0.9, 0.1, 0.45)])
    assert min_energy_labels(fake, x).tolist() == [2, 0, 1]
    inputs = ImageInputs(x.numpy(), np.array([1, 1, 1]), "test")
    assert condition_labels(fake, inputs, x.numpy(), None)[0].tolist() == [1, 1, 1]  # known labels win
    y, how = condition_labels(fake, ImageInputs(x.numpy(), None, "npz"), x.numpy(), None)
    assert y.tolist() == [2, 0, 1] and how == "inferred"
    with pytest.raises(UserError, match="needs labels"):
        condition_labels(fake, ImageInputs(x.numpy(), None, "npz"), x.numpy(), "given")


def test_chain_knobs_reach_the_sampler(run):
    s = Chain(rounds=2, steps=7, step_size=3.0, noise_std=0.0, temperature=0.5).sampler(run)
    assert (s.step_size, s.noise_std, s.temperature) == (3.0, 0.0, 0.5)
    assert s.grad_clip == run.sampler.grad_clip and run.sampler.step_size != 3.0  # the run's sampler is untouched
    assert Chain(rounds=2, steps=7).total_steps(run) == 14 and Chain().total_steps(run) == run.sampler.steps


# --- completion ---------------------------------------------------------------------------------

def test_completion_moves_only_hidden_pixels_and_is_diverse(run):
    x = run.dataset("test").x[:5]
    mask = parse_mask("bottom-half", x.shape)
    comps = complete(run, x, mask, torch.arange(5), samples=3, chain=Chain(rounds=2, steps=2))
    assert comps.shape == (5, 3, 1, 8, 8)
    assert np.array_equal(comps[:, :, :, :4], np.repeat(x[:, None, :, :4], 3, axis=1))
    assert not np.allclose(comps[:, :, :, 4:], x[:, None, :, 4:])
    m = completion_metrics(comps, x, mask)
    assert m["diversity"] > 0.1 and m["mse_best_of_s"] < m["mse_mean_of_s"]


def test_completion_starts_from_noise_in_the_hidden_region(run):
    x = run.dataset("test").x[:4]
    mask = parse_mask("center-box", x.shape)
    frozen = Chain(rounds=1, steps=1, step_size=0.0, noise_std=0.0)  # a chain that does not move
    comps = complete(run, x, mask, torch.zeros(4, dtype=torch.long), samples=2, chain=frozen, seed=3)
    hidden = comps[:, :, 0, 2:6, 2:6]
    g = torch.Generator().manual_seed(3)
    expected = run.noise(8, g).numpy().reshape(4, 2, 1, 8, 8)[:, :, 0, 2:6, 2:6]
    assert np.allclose(hidden, expected)


def test_hidden_mse_counts_only_hidden_pixels():
    truth = np.zeros((2, 1, 2, 2), np.float32)
    mask = np.zeros((2, 1, 2, 2), bool)
    mask[:, 0, 0, 0] = True
    pred = np.ones((2, 3, 1, 2, 2), np.float32)  # wrong everywhere, but only one pixel is scored
    pred[1, :, 0, 0, 0] = 0.5
    assert np.allclose(hidden_mse(pred, truth, mask), [[1, 1, 1], [0.25, 0.25, 0.25]])


def test_completion_baselines_are_sane(run):
    train = run.dataset("train")
    mask = parse_mask("center-box", train.x.shape)[0]
    b = completion_baselines(train.x, train.x[:10], mask, train.y, train.y[:10])
    assert np.allclose(b["nearest neighbour"], train.x[:10])  # a training image is its own nearest neighbour
    assert np.allclose(b["nearest neighbour (same class)"], train.x[:10])
    for name, pred in b.items():
        assert np.array_equal(pred[:, :, 0], train.x[:10, :, 0]), name  # visible pixels are kept
    assert hidden_mse(b["conditional Gaussian"], train.x[:10], mask).mean() < hidden_mse(b["mean image"], train.x[:10], mask).mean()


def test_cli_complete_writes_the_promised_files(run_dir, tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["complete", str(run_dir), "--split", "test", "--num", "4", "--mask", "center-box",
                 "--samples", "2", "--rounds", "1", "--steps", "2", "--out", str(out)]) == 0
    z = np.load(out / "completions.npz")
    assert z["completions"].shape == (4, 2, 1, 8, 8) and z["masks"].shape == (4, 1, 8, 8)
    assert np.array_equal(z["truth"], z["inputs"]) and z["masks"][:, 0, 2:6, 2:6].all()
    assert z["labels"].tolist() == load_run(run_dir).dataset("test").y[:4].tolist()
    m = json.loads((out / "metrics.json").read_text())
    assert m["conditioned_on"] == "given" and m["steps_per_round"] == 2
    assert 0 <= m["mse_best_of_s"] <= m["mse_mean_of_s"] and 0 <= m["judge_agrees"] <= 1
    assert Image.open(out / "completions.png").size[0] > Image.open(out / "completions.png").size[1] / 2
    assert "hidden-pixel MSE" in capsys.readouterr().out


def test_cli_complete_without_labels_or_truth(run_dir, tmp_path):
    x = load_run(run_dir).dataset("test").x[:3]
    np.savez(tmp_path / "in.npz", images=x)
    out = tmp_path / "c"
    assert main(["complete", str(run_dir), "--input", str(tmp_path / "in.npz"), "--mask", "random:0.5",
                 "--samples", "2", "--steps", "1", "--rounds", "1", "--no-truth", "--out", str(out)]) == 0
    z = np.load(out / "completions.npz")
    assert "truth" not in z.files and z["completions"].shape == (3, 2, 1, 8, 8)
    m = json.loads((out / "metrics.json").read_text())
    assert m["conditioned_on"] == "inferred" and "mse_mean_of_s" not in m


# --- restoration, morphing, steps curve ---------------------------------------------------------

def test_cli_restore(run_dir, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["restore", str(run_dir), "--split", "test", "--num", "6", "--steps", "2", "--out", str(out)]) == 0
    assert "PSNR" in capsys.readouterr().out
    z = np.load(out / "restored.npz")
    assert z["restored"].shape == z["clean"].shape == (6, 1, 8, 8)
    assert not np.array_equal(z["restored"], z["corrupted"])  # the chain moved every pixel it could
    m = json.loads((out / "metrics.json").read_text())
    assert m["psnr_corrupted"] < 30 and "psnr_median3" in m and "psnr_restored" in m
    assert main(["restore", str(run_dir), "--split", "test", "--num", "2", "--steps", "1", "--corruption", "none",
                 "--out", str(tmp_path / "r2")]) == 0
    assert "clean" not in np.load(tmp_path / "r2" / "restored.npz").files


def test_morph_frames_follow_one_chain(run):
    x = run.dataset("test").x[:2]
    frames = morph(run, x, np.array([3, 3]), steps=6, frames=4, chain=Chain(noise_std=0.0))
    assert frames.shape == (4, 2, 1, 8, 8) and np.array_equal(frames[0], x)
    whole = morph(run, x, np.array([3, 3]), steps=6, frames=2, chain=Chain(noise_std=0.0))
    assert np.allclose(frames[-1], whole[-1], atol=1e-5)  # frames split the chain, they do not change it


def test_cli_morph(run_dir, tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["morph", str(run_dir), "--from-class", "3", "--to-class", "8", "--num", "2", "--steps", "4",
                 "--frames", "3", "--out", str(out)]) == 0
    z = np.load(out / "morph.npz")
    assert z["frames"].shape == (3, 2, 1, 8, 8) and set(z["to_labels"]) == {8} and set(z["from_labels"]) == {3}
    assert (out / "morph.gif").exists() and (out / "morph_strip.png").exists()
    m = json.loads((out / "metrics.json").read_text())
    assert 0 <= m["share_judged_to"] + m["share_still_from"] <= 1
    assert "still as 3" in capsys.readouterr().out


def test_cli_steps_curve(run_dir, tmp_path, capsys):
    assert main(["steps-curve", str(run_dir), "--steps", "3,1", "--num", "20", "--out", str(tmp_path / "s")]) == 0
    rows = json.loads((tmp_path / "s" / "steps_curve.json").read_text())
    assert [r["steps"] for r in rows] == [1, 3] and (tmp_path / "s" / "steps_curve.png").exists()
    assert {"accuracy", "frechet_ratio", "saturation", "diversity"} <= set(rows[0])
    assert "| steps | 1 | 3 |" in capsys.readouterr().out


def test_bad_inputs_exit_2_with_one_line(run_dir, tmp_path, capsys):
    np.savez(tmp_path / "noimages.npz", pictures=np.zeros((2, 1, 8, 8)))
    assert main(["complete", str(run_dir), "--input", str(tmp_path / "noimages.npz"), "--mask", "bottom-half"]) == 2
    assert "no 'images' array" in one_error_line(capsys)
    np.save(tmp_path / "m.npy", np.ones((4, 4), bool))
    assert main(["complete", str(run_dir), "--split", "test", "--mask", str(tmp_path / "m.npy")]) == 2
    assert "has shape (4, 4)" in one_error_line(capsys)
    np.savez(tmp_path / "labels.npz", images=np.zeros((2, 1, 8, 8), np.float32), labels=np.array([1, 10]))
    assert main(["restore", str(run_dir), "--input", str(tmp_path / "labels.npz")]) == 2
    assert "class label 10 is out of range" in one_error_line(capsys)
    np.savez(tmp_path / "big.npz", images=np.zeros((2, 1, 16, 16), np.float32))
    assert main(["restore", str(run_dir), "--input", str(tmp_path / "big.npz")]) == 2
    assert "shape (1, 16, 16)" in one_error_line(capsys)
    assert main(["morph", str(run_dir), "--from-class", "3", "--to-class", "12"]) == 2
    assert "--to-class 12 is out of range" in one_error_line(capsys)
    assert main(["morph", str(run_dir), "--from-class", "3", "--to-class", "3"]) == 2
    assert "different" in one_error_line(capsys)
    assert main(["restore", str(run_dir), "--split", "test", "--corruption", "blur"]) == 2
    assert "unknown corruption" in one_error_line(capsys)
    assert main(["complete", str(run_dir), "--split", "test", "--mask", "bottom-half", "--temperature", "0"]) == 2
    assert "temperature" in one_error_line(capsys)
    assert main(["steps-curve", str(run_dir), "--steps", "10,x"]) == 2
    assert "comma-separated" in one_error_line(capsys)


def test_unconditional_runs_complete_without_labels_and_refuse_to_morph(tiny_uncond_dir, tmp_path, capsys):
    out = tmp_path / "c"
    np.savez(tmp_path / "in.npz", images=load_run(tiny_uncond_dir).dataset("test").x[:2])
    assert main(["complete", str(tiny_uncond_dir), "--input", str(tmp_path / "in.npz"), "--mask", "left-half",
                 "--samples", "2", "--steps", "1", "--rounds", "1", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["conditioned_on"] is None and m["mse_best_of_s"] > 0
    assert main(["morph", str(tiny_uncond_dir), "--from-class", "1", "--to-class", "2"]) == 2
    assert "class-conditional" in one_error_line(capsys)


# --- demo -----------------------------------------------------------------------------------------

def test_add_to_demo_writes_figures_sections_and_metrics(run, run_dir, monkeypatch):
    from igebm.evaluation.judge import run_judge
    from igebm.report.html import load_sections
    from igebm.evaluation.images import SuiteSettings
    tiny = SuiteSettings(num=6, samples=2, complete_chain=Chain(1, 1), restore_chain=Chain(1, 1),
                         morph_per_pair=1, morph_steps=2)
    monkeypatch.setattr(image_suite, "DEMO_SETTINGS", tiny)
    monkeypatch.setattr(image_suite, "CURVE_STEPS", (1, 2))
    monkeypatch.setattr(image_suite, "CURVE_NUM", 10)
    metrics = image_suite.add_to_demo(run, run_judge(run))
    for name in ("complete_bottom-half.png", "complete_center-box.png", "restore_salt_pepper.png",
                 "morph_matrix.png", "morph_strip.png", "morph.gif", "steps_curve.png"):
        assert (run_dir / "figures" / name).exists(), name
    titles = {s.title for s in load_sections(run_dir)}
    assert {"Completion", "Restoration", "Cross-class morphing", "Adaptive computation (steps curve)"} <= titles
    assert 0 <= metrics["morph_success_mean"] <= 1 and set(metrics["steps_curve"]) == {"1", "2"}
    assert metrics["completion_center-box"]["mse_best_of_s"] <= metrics["completion_center-box"]["mse_mean_of_s"]
    json.dumps(metrics)  # must merge into metrics.json
