"""OOD detection and robust classification: metrics, sets, attacks, CLI errors."""

import json

import numpy as np
import pytest
import torch

from igebm.cli import main
from igebm.errors import UserError
from igebm.evaluation.ood_metrics import ood_metrics
from igebm.data.ood_sets import GENERATED, make_ood_set
from igebm.cli.generalisation import parse_eps
from igebm.evaluation.attacks import classifier_grad_fn, pgd


def test_ood_metrics_extremes():
    good = ood_metrics(np.array([2.0, 3.0, 4.0]), np.array([-1.0, 0.0]))
    assert good["auroc"] == 1.0 and good["fpr_at_95_tpr"] == 0.0
    bad = ood_metrics(np.array([-1.0, 0.0]), np.array([2.0, 3.0]))
    assert bad["auroc"] == 0.0 and bad["fpr_at_95_tpr"] == 1.0


def test_generated_sets_are_shaped_and_seeded():
    x = np.random.default_rng(0).random((30, 1, 8, 8)).astype(np.float32)
    for name in GENERATED:
        a, b = make_ood_set(name, x, seed=1), make_ood_set(name, x, seed=1)
        assert a.shape == x.shape and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1, name
        assert np.array_equal(a, b), name
    inv = make_ood_set("inverted", x[:1], n=1)
    assert np.allclose(inv, 1 - x[:1])
    assert make_ood_set("letters", x).max() > 0.5  # the glyphs really were drawn
    with pytest.raises(UserError, match="unknown OOD set"):
        make_ood_set("clouds", x)


def test_on_disk_ood_sets_are_converted_to_the_run_shape(tmp_path):
    from formats_fixtures import write_cifar100_binary, write_image_folder, write_svhn_mat
    write_svhn_mat(tmp_path / "svhn", n=4, n_test=5)
    write_cifar100_binary(tmp_path / "c100", n=4, n_test=5)
    write_image_folder(tmp_path / "folder", n_per_class=2)
    x = np.zeros((10, 1, 8, 8), np.float32)
    for spec in (f"svhn:{tmp_path / 'svhn'}", f"cifar100:{tmp_path / 'c100'}", f"folder:{tmp_path / 'folder'}"):
        s = make_ood_set(spec, x)
        assert s.shape[1:] == (1, 8, 8) and 0 < len(s) <= 10, spec


def test_pgd_breaks_a_standard_classifier_and_respects_the_ball():
    from igebm.data.digits import load_digits_split
    from igebm.evaluation.baselines.classifiers import ResNetClassifier, train_classifier
    train, test = load_digits_split("train"), load_digits_split("test")
    torch.manual_seed(0)
    model = train_classifier(ResNetClassifier(1, "resnet-digits", 16, 10), train.x, train.y, epochs=8)
    x, y = torch.from_numpy(test.x[:100]), torch.from_numpy(test.y[:100])
    clean = (model(x).argmax(1) == y).float().mean()
    assert clean > 0.8
    x_adv = pgd(classifier_grad_fn(model), x, y, eps=0.5, norm="linf", steps=10)
    assert (x_adv - x).abs().max() <= 0.5 + 1e-6
    assert (model(x_adv).argmax(1) == y).float().mean() < 0.05
    x2 = pgd(classifier_grad_fn(model), x, y, eps=1.0, norm="l2", steps=10)
    assert (x2 - x).flatten(1).norm(dim=1).max() <= 1.0 + 1e-5
    assert (model(x2).argmax(1) == y).float().mean() < clean


def test_parse_eps():
    assert parse_eps("0, 0.1,0.2") == [0.0, 0.1, 0.2]
    with pytest.raises(UserError, match="comma-separated"):
        parse_eps("0.1;0.2")


def one_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_cli_errors(tiny_run_dir, tiny_uncond_dir, capsys):
    assert main(["ood", str(tiny_run_dir), "--ood", "clouds"]) == 2
    assert "unknown OOD set 'clouds'" in one_line(capsys)
    assert main(["robustness", str(tiny_run_dir), "--eps", "0.1,abc"]) == 2
    assert "comma-separated" in one_line(capsys)
    assert main(["classify", str(tiny_uncond_dir)]) == 2
    assert "class-conditional" in one_line(capsys)


def test_cli_ood_and_classify(tiny_run_dir, tmp_path, capsys):
    assert main(["ood", str(tiny_run_dir), "--ood", "uniform", "inverted", "--no-baselines",
                 "--out", str(tmp_path / "o")]) == 0
    table = json.loads((tmp_path / "o" / "ood.json").read_text())
    (model, row), = table.items()
    assert set(row) == {"uniform", "inverted", "average"} and 0 <= row["uniform"]["auroc"] <= 1
    assert (tmp_path / "o" / "ood_energy_hist.png").exists()
    assert main(["classify", str(tiny_run_dir), "--num", "8", "--refine-steps", "2"]) == 0
    assert "clean accuracy" in capsys.readouterr().out


def test_cli_robustness_with_baseline(tiny_run_dir, tmp_path, capsys):
    assert main(["baseline", "train", str(tiny_run_dir), "--kind", "standard", "--epochs", "1"]) == 0
    assert main(["robustness", str(tiny_run_dir), "--eps", "0,0.3", "--pgd-steps", "2", "--refine-steps", "1",
                 "--num", "6", "--out", str(tmp_path / "rb")]) == 0
    res = json.loads((tmp_path / "rb" / "robustness_linf.json").read_text())
    assert set(res["accuracy"]) == {"ebm (paper attack)", "ebm (adaptive attack)", "standard classifier"}
    assert (tmp_path / "rb" / "robustness_linf.png").exists()


def _copy_run(src, tmp_path):
    import shutil
    return shutil.copytree(src, tmp_path / "run")


def test_demo_suite_reports_ood_for_an_unconditional_run_and_skips_classification(tiny_uncond_dir, tmp_path):
    from igebm.report import load_sections
    from igebm.report.sections import generalisation as generalisation_suite
    from igebm.training import load_run
    run = load_run(_copy_run(tiny_uncond_dir, tmp_path))
    metrics = generalisation_suite.add_to_demo(run, judge=None)
    titles = [s.title for s in load_sections(run.run_dir)]
    assert titles == ["Out-of-distribution detection"]
    assert "robust_accuracy_linf" not in metrics
    assert {"Gaussian mixture", "MADE (autoregressive)"} <= set(metrics["ood_auroc_average"])
    assert 0.0 <= metrics["ebm_ood_auroc_average"] <= 1.0


def test_demo_suite_says_when_the_ebm_cannot_classify(tiny_run_dir, tmp_path):
    """A barely trained conditional model is near chance: the report must say so, not just plot it."""
    from igebm.report import load_sections
    from igebm.report.sections import generalisation as generalisation_suite
    from igebm.training import load_run
    run = load_run(_copy_run(tiny_run_dir, tmp_path))
    metrics = generalisation_suite.add_to_demo(run, judge=None, num_attacked=20)
    robust = {s.title: s for s in load_sections(run.run_dir)}["Robust classification"]
    clean = min(a["0"] for name, a in metrics["robust_accuracy_linf"].items() if name.startswith("ebm"))
    assert clean < generalisation_suite.WEAK_CLASSIFIER
    assert f"classifies only {clean:.2f}" in robust.text and "ce_alpha" in robust.text
    assert (run.run_dir / "figures" / "robustness_linf.png").is_file()


def test_ood_needs_an_image_run_and_the_demo_suite_skips_others(tmp_path, capsys):
    """A 2-D toy run has no images to compare with OOD images: one line and exit 2, and no demo section."""
    from conftest import tiny_config

    from igebm.report.sections import generalisation as generalisation_suite
    from igebm.training import Trainer, load_run
    cfg = tiny_config(data={"name": "toy2d", "toy_size": 200, "dequantize": False},
                      model={"arch": "mlp", "conditional": False, "hidden": 16, "depth": 2, "spectral_norm": False},
                      sampler={"parameterization": "ula", "step_size": 0.01, "grad_clip": 0.0, "clamp": False},
                      train={"max_steps": 2})
    Trainer(cfg, tmp_path / "toy").fit()
    assert main(["ood", str(tmp_path / "toy"), "--no-baselines"]) == 2
    err = capsys.readouterr().err
    assert "not an image dataset" in err and "Traceback" not in err
    assert generalisation_suite.add_to_demo(load_run(tmp_path / "toy"), judge=None) == {}
