import pytest

from igebm.config import load_config
from igebm.errors import UserError
from igebm.recipes import RECIPE_DIR


def test_every_recipe_loads():
    names = sorted(p.stem for p in RECIPE_DIR.glob("*.toml"))
    assert {"digits", "digits_uncond", "toy2d", "cifar10", "cifar10_uncond"} <= set(names)
    for p in RECIPE_DIR.glob("*.toml"):
        load_config(p, ["data.root=/somewhere"])


def test_paper_settings_in_the_cifar_recipes():
    for name in ("cifar10", "cifar10_uncond"):
        cfg = load_config(RECIPE_DIR / f"{name}.toml", ["data.root=/x"])
        s, t = cfg.sampler, cfg.train
        assert (s.steps, s.step_size, s.noise_std, s.grad_clip) == (60, 10.0, 0.005, 0.01)
        assert (cfg.buffer.capacity, t.batch_size, t.lr, t.beta1) == (10000, 128, 3e-4, 0.0)
    assert load_config(RECIPE_DIR / "cifar10_uncond.toml", ["data.root=/x"]).model.arch == "resnet32-large"


def test_overrides_parse_types():
    cfg = load_config(None, ["train.lr=1e-4", "model.conditional=false", "data.name=toy2d", "eval.steps=[5, 10]"])
    assert cfg.train.lr == 1e-4 and cfg.model.conditional is False
    assert cfg.data.name == "toy2d" and cfg.eval.steps == [5, 10]


@pytest.mark.parametrize("override, words", [
    (["train.lrr=1"], "unknown config key 'train.lrr'"),
    (["nope.x=1"], "unknown config key 'nope'"),
    (["train.lr=fast"], "'train.lr' must be a number"),
    (["train.max_steps=1.5"], "'train.max_steps' must be an integer"),
    (["model.conditional=3"], "must be true or false"),
    (["sampler.parameterization=hmc2"], "choose one of"),
    (["data.name=cifar10"], "set data.root"),
    (["buffer.reinit_prob=2"], "reinit_prob"),
    (["train.lr"], "key=value"),
])
def test_bad_config_fails_with_a_clear_message(override, words):
    with pytest.raises(UserError, match=None) as err:
        load_config(None, override)
    assert words in str(err.value)


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nlr = 1")
    with pytest.raises(UserError, match="not valid TOML"):
        load_config(bad)
