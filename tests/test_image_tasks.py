"""Completion, restoration, morphing and the steps curve on a tiny run."""

import json

import numpy as np
import pytest
import torch

from igebm.cli import main
from igebm.errors import UserError
from igebm.tasks.complete import complete, completion_baselines, completion_metrics
from igebm.tasks.images import corrupt, parse_mask
from igebm.training import load_run


def test_masks():
    m = parse_mask("bottom-half", (1, 8, 8))
    assert m.shape == (1, 8, 8) and m[0, 4:].all() and not m[0, :4].any()
    assert parse_mask("center-box", (3, 8, 8))[:, 2:6, 2:6].all() and parse_mask("center-box", (1, 8, 8)).sum() == 16
    assert abs(parse_mask("random:0.5", (1, 32, 32)).mean() - 0.5) < 0.1
    with pytest.raises(UserError, match="unknown mask"):
        parse_mask("diagonal", (1, 8, 8))


def test_mask_file_shape_is_checked(tmp_path):
    np.save(tmp_path / "m.npy", np.ones((5, 5), bool))
    with pytest.raises(UserError, match=r"has shape \(5, 5\)"):
        parse_mask(str(tmp_path / "m.npy"), (1, 8, 8))
    np.save(tmp_path / "ok.npy", np.eye(8, dtype=bool))
    assert parse_mask(str(tmp_path / "ok.npy"), (1, 8, 8)).sum() == 8


def test_salt_and_pepper_follows_the_paper():
    x = np.full((50, 1, 32, 32), 0.5, np.float32)
    bad = corrupt("salt-pepper:0.1", x)
    assert abs((bad == np.float32(0.1)).mean() - 0.05) < 0.01
    assert abs((bad == np.float32(0.9)).mean() - 0.05) < 0.01
    assert abs((bad == 0.5).mean() - 0.9) < 0.01


def test_completion_moves_only_hidden_pixels_and_is_diverse(tiny_run_dir):
    run = load_run(tiny_run_dir)
    x = run.dataset("test").x[:5]
    mask = parse_mask("bottom-half", x.shape[1:])
    comps = complete(run, x, mask, torch.arange(5), samples=3, rounds=1, steps=3)
    assert comps.shape == (5, 3, 1, 8, 8)
    assert np.array_equal(comps[:, :, :, :4], np.repeat(x[:, None, :, :4], 3, axis=1))
    m = completion_metrics(comps, x, mask)
    assert m["diversity"] > 0 and m["mse_best_of_s"] <= m["mse_mean_of_s"]


def test_completion_baselines_are_sane(tiny_run_dir):
    run = load_run(tiny_run_dir)
    train = run.dataset("train").x
    mask = parse_mask("center-box", train.shape[1:])
    b = completion_baselines(train, train[:10], mask)
    assert np.allclose(b["nearest neighbour"], train[:10])  # a training image is its own nearest neighbour
    assert np.allclose(b["mean image"][:, :, 0], train[:10, :, 0])  # visible pixels are kept


def test_cli_complete_writes_the_promised_files(tiny_run_dir, tmp_path):
    out = tmp_path / "c"
    assert main(["complete", str(tiny_run_dir), "--split", "test", "--num", "4", "--mask", "center-box",
                 "--samples", "2", "--rounds", "1", "--steps", "2", "--out", str(out)]) == 0
    z = np.load(out / "completions.npz")
    assert z["completions"].shape == (4, 2, 1, 8, 8) and z["masks"].shape == (4, 1, 8, 8)
    assert np.array_equal(z["truth"], z["inputs"])
    assert (out / "completions.png").exists()
    assert {"mse_mean_of_s", "mse_best_of_s", "diversity"} <= set(json.loads((out / "metrics.json").read_text()))


def test_cli_restore_and_morph(tiny_run_dir, tmp_path, capsys):
    assert main(["restore", str(tiny_run_dir), "--split", "test", "--num", "6", "--steps", "2",
                 "--out", str(tmp_path / "r")]) == 0
    assert "PSNR" in capsys.readouterr().out
    z = np.load(tmp_path / "r" / "restored.npz")
    assert z["restored"].shape == z["clean"].shape
    assert main(["morph", str(tiny_run_dir), "--from-class", "3", "--to-class", "8", "--num", "2", "--steps", "4",
                 "--frames", "3", "--out", str(tmp_path / "m")]) == 0
    z = np.load(tmp_path / "m" / "morph.npz")
    assert z["frames"].shape == (3, 2, 1, 8, 8) and set(z["to_labels"]) == {8} and set(z["from_labels"]) == {3}
    assert (tmp_path / "m" / "morph.gif").exists() and (tmp_path / "m" / "morph_strip.png").exists()
    m = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert 0 <= m["share_judged_to"] <= 1


def one_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_bad_inputs_exit_2(tiny_run_dir, tmp_path, capsys):
    np.savez(tmp_path / "noimages.npz", pictures=np.zeros((2, 1, 8, 8)))
    assert main(["complete", str(tiny_run_dir), "--input", str(tmp_path / "noimages.npz"), "--mask", "bottom-half"]) == 2
    assert "no 'images' array" in one_line(capsys)
    np.save(tmp_path / "m.npy", np.ones((4, 4), bool))
    assert main(["complete", str(tiny_run_dir), "--split", "test", "--mask", str(tmp_path / "m.npy")]) == 2
    assert "has shape (4, 4)" in one_line(capsys)
    np.savez(tmp_path / "big.npz", images=np.zeros((2, 1, 16, 16), np.float32))
    assert main(["restore", str(tiny_run_dir), "--input", str(tmp_path / "big.npz")]) == 2
    assert "shape (1, 16, 16)" in one_line(capsys)
    assert main(["morph", str(tiny_run_dir), "--from-class", "3", "--to-class", "12"]) == 2
    assert "out of range" in one_line(capsys)
    assert main(["steps-curve", str(tiny_run_dir), "--steps", "10,x"]) == 2
    assert "comma-separated" in one_line(capsys)


def test_steps_curve_runs(tiny_run_dir, tmp_path, capsys):
    assert main(["steps-curve", str(tiny_run_dir), "--steps", "1,3", "--num", "20", "--out", str(tmp_path / "s")]) == 0
    rows = json.loads((tmp_path / "s" / "steps_curve.json").read_text())
    assert [r["steps"] for r in rows] == [1, 3] and (tmp_path / "s" / "steps_curve.png").exists()
