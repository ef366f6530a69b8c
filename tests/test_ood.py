"""OOD detection: metric values, generated and on-disk sets, scores, and the CLI on a CIFAR-10-shaped run."""

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from igebm.cli import main
from igebm.errors import UserError
from igebm.evaluation.ood_metrics import ood_metrics
from igebm.evaluation.ood import markdown_table
from igebm.tasks.generalisation.ood import energy_score
from igebm.data.ood_sets import make_ood_set
from igebm.training import load_run


def test_metrics_match_hand_computed_values():
    s_in, s_out = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 2.5])
    m = ood_metrics(s_in, s_out)
    assert m["auroc"] == pytest.approx(6 / 8)  # 6 of the 8 (in, out) pairs are ordered right
    assert m["fpr_at_95_tpr"] == pytest.approx(0.5)  # keeping every in-distribution input lets 2.5 through
    labels = np.r_[np.ones(4), np.zeros(2)]
    assert m["aupr"] == pytest.approx(average_precision_score(labels, np.r_[s_in, s_out]))


def test_diverged_scores_count_as_out_of_distribution():
    m = ood_metrics(np.array([0.1, 0.2, 0.3]), np.array([np.nan, -np.inf, 0.0]))
    assert m["auroc"] == 1.0


def test_generated_sets_do_what_their_names_say():
    rng = np.random.default_rng(0)
    x = rng.random((20, 1, 8, 8)).astype(np.float32)
    const = make_ood_set("constant", x, seed=3)
    assert np.allclose(const, const[:, :, :1, :1]) and len(np.unique(const[:, 0, 0, 0])) == 20
    interp = make_ood_set("interp", x, n=50, seed=3)
    # every image is the average of two *different* test images
    pair_means = 0.5 * (x[:, None] + x[None, :])
    for img in interp:
        d = np.abs(pair_means - img).reshape(20, 20, -1).max(-1)
        i, j = np.unravel_index(d.argmin(), d.shape)
        assert d[i, j] < 1e-6 and i != j
    rot = make_ood_set("rot90", x, seed=3)
    assert any(np.allclose(np.rot90(r, -1, axes=(1, 2)), t) for r in rot[:1] for t in x)
    colour = rng.random((6, 3, 12, 16)).astype(np.float32)  # generic: RGB, not square
    for name in ("uniform", "gaussian", "constant", "interp", "inverted", "rot90", "shapes", "letters"):
        s = make_ood_set(name, colour, seed=1)
        assert s.shape == colour.shape and s.dtype == np.float32 and 0 <= s.min() and s.max() <= 1, name
    assert not np.array_equal(make_ood_set("shapes", x, seed=1), make_ood_set("shapes", x, seed=2))


def test_svhn_set_is_the_svhn_test_split(tmp_path):
    from formats_fixtures import write_svhn_mat
    written = write_svhn_mat(tmp_path / "svhn", n=3, n_test=6)
    x_in = np.zeros((6, 3, 32, 32), np.float32)  # a CIFAR-shaped run: no resizing needed
    got = make_ood_set(f"svhn:{tmp_path / 'svhn'}", x_in, seed=0)
    want = written.x_test.astype(np.float32) / 255
    key = lambda a: sorted(map(bytes, (a * 255).round().astype(np.uint8)))  # noqa: E731
    assert key(got) == key(want)  # the same images, shuffled


def test_scores_reduce_over_labels_as_documented(tiny_run_dir, tiny_uncond_dir):
    run = load_run(tiny_run_dir)
    x = run.dataset("test").x[:12]
    with torch.no_grad():
        e = torch.stack([run.energy(torch.from_numpy(x), torch.full((12,), c)) for c in range(10)], 1).numpy()
    assert np.allclose(energy_score(run, x), -e.min(1), atol=1e-6)  # the paper's score
    assert np.allclose(energy_score(run, x, "mean-energy"), -e.mean(1), atol=1e-6)
    lse = energy_score(run, x, "logsumexp")
    assert np.all(lse >= -e.min(1) - 1e-6) and np.all(lse <= -e.min(1) + np.log(10) + 1e-6)
    with pytest.raises(UserError, match="conditional run"):
        energy_score(load_run(tiny_uncond_dir), x, "logsumexp")


def test_cli_bad_score_is_one_line(tiny_uncond_dir, capsys):
    assert main(["ood", str(tiny_uncond_dir), "--score", "min-energy", "--no-baselines"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs a conditional run" in err[0]


@pytest.fixture(scope="module")
def tiny_cifar_run(tmp_path_factory):
    """A CIFAR-10 run (3x32x32) trained for two steps on the official binary format."""
    from conftest import tiny_config
    from formats_fixtures import write_cifar10_binary
    from igebm.training import Trainer
    root = tmp_path_factory.mktemp("data")
    write_cifar10_binary(root / "cifar10", n_per_batch=16, batches=2, n_test=12)
    cfg = tiny_config(data={"name": "cifar10", "root": str(root / "cifar10")},
                      model={"arch": "resnet32", "channels": 4}, train={"max_steps": 2, "batch_size": 8})
    out = root / "run"
    Trainer(cfg, out).fit()
    return out, root


def test_cli_ood_on_a_cifar_run_with_on_disk_sets(tiny_cifar_run, capsys):
    from formats_fixtures import write_cifar100_binary, write_image_folder, write_svhn_mat
    run_dir, root = tiny_cifar_run
    write_svhn_mat(root / "svhn", n=2, n_test=5)
    write_cifar100_binary(root / "c100", n=2, n_test=4)
    write_image_folder(root / "folder", n_per_class=2, size=(8, 6))  # resized to 32x32 on load
    sets = [f"svhn:{root / 'svhn'}", f"cifar100:{root / 'c100'}", f"folder:{root / 'folder'}"]
    out = root / "ood"
    assert main(["ood", str(run_dir), "--ood", *sets, "--out", str(out)]) == 0
    table = json.loads((out / "ood.json").read_text())
    assert set(table) == {"EBM (min-energy)", "Gaussian mixture", "MADE (autoregressive)",
                          "max-softmax (standard classifier)"}
    for row in table.values():
        assert set(row) == {*sets, "average"}
        for m in row.values():
            assert 0 <= m["auroc"] <= 1 and 0 <= m["aupr"] <= 1 and 0 <= m["fpr_at_95_tpr"] <= 1
        assert row["average"]["auroc"] == pytest.approx(np.mean([row[s]["auroc"] for s in sets]))
    for kind in ("svhn", "cifar100", "folder"):
        assert (out / f"ood_energy_hist_{kind}.png").stat().st_size > 1000
    assert (out / "ood_auroc.md").read_text() == markdown_table(table)
    assert (run_dir / "baselines" / "classifier_standard.safetensors").exists()  # max-softmax was trained
    printed = capsys.readouterr().out
    assert "EBM (min-energy)" in printed and "average" in printed
