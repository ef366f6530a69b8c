"""The `igebm` command as a user meets it: help, bad input, and a whole tiny run."""

import json

import numpy as np
import pytest

from igebm.cli import main

TINY = ["--set", "model.channels=8", "--set", "sampler.steps=3", "--set", "buffer.capacity=64",
        "--set", "train.batch_size=16", "--set", "train.max_steps=4", "--set", "train.checkpoint_every=2",
        "--set", "train.progress=false", "--set", "train.tensorboard=false"]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # one clear line, no traceback
    return err[0]


@pytest.mark.parametrize("cmd", [[], ["train"], ["sample"], ["demo"], ["info"]])
def test_help_explains_itself(cmd, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(cmd + ["--help"])
    assert exit_.value.code == 0
    assert "usage: igebm" in capsys.readouterr().out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["train", "digits", "--out", str(out)] + TINY) == 0
    return out


def test_train_sample_info(tiny_run, tmp_path, capsys):
    assert (tiny_run / "config.json").exists()
    npz = tmp_path / "s.npz"
    assert main(["sample", str(tiny_run), "--num", "12", "--all-labels", "--steps", "2",
                 "--out", str(npz), "--grid", str(tmp_path / "g.png")]) == 0
    data = np.load(npz)
    assert data["images"].shape == (12, 1, 8, 8) and data["images"].dtype == np.float32
    assert data["images"].min() >= 0 and data["images"].max() <= 1
    assert list(data["labels"]) == [i % 10 for i in range(12)]
    assert (tmp_path / "g.png").stat().st_size > 0
    assert main(["info", str(tiny_run)]) == 0
    out = capsys.readouterr().out
    assert "step:        4 of 4" in out and "step_0000004" in out


@pytest.mark.parametrize("args, words", [
    (["train", "digits", "--set", "train.lrr=1"], "unknown config key 'train.lrr'"),
    (["train", "digits", "--set", "train.lr=fast"], "must be a number"),
    (["train", "nosuchrecipe"], "not found"),
    (["train", "digits", "--set", "data.name=cifar10", "--set", "data.root=/no/such/dir"], "/no/such/dir"),
    (["sample", "/no/such/run"], "does not exist"),
    (["info", "/no/such/run"], "does not exist"),
    (["train", "digits", "--out", "/no/such/run", "--resume"], "does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(args, words, capsys):
    assert main(args) == 2
    assert words in one_error_line(capsys)


def test_existing_run_is_never_overwritten(tiny_run, capsys):
    before = (tiny_run / "metrics.jsonl").read_text()
    assert main(["train", "digits", "--out", str(tiny_run)] + TINY) == 2
    assert "--resume" in one_error_line(capsys)
    assert (tiny_run / "metrics.jsonl").read_text() == before


def test_sample_label_out_of_range(tiny_run, capsys):
    assert main(["sample", str(tiny_run), "--label", "12"]) == 2
    assert "out of range" in one_error_line(capsys)


def test_corrupt_checkpoint_exit_2(tiny_run, tmp_path, capsys):
    import shutil
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    last = sorted((run / "checkpoints").iterdir())[-1]
    (last / "state.json").write_text("{not json")
    assert main(["info", str(run)]) == 2
    assert "corrupt" in one_error_line(capsys)
    assert json.loads((tiny_run / "config.json").read_text())  # the original run is untouched
