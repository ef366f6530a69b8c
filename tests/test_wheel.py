"""A built wheel carries its recipes: install it into a fresh virtualenv and train a recipe by name.

The fresh environment borrows the test environment's third-party packages (torch is
large) through a path file, but not the editable igebm: what runs is the wheel.
"""

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _setuptools_is_new_enough() -> bool:
    try:
        import setuptools
        return int(setuptools.__version__.split(".")[0]) >= 77
    except ImportError:
        return False


@pytest.mark.slow
def test_wheel_installs_and_trains_a_recipe_by_name(tmp_path):
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)]
    if _setuptools_is_new_enough():
        build.insert(4, "--no-build-isolation")  # no download needed
    subprocess.run(build, check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("igebm-*.whl")

    env_dir = tmp_path / "fresh"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # torch, numpy, ... not igebm
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True)

    work = tmp_path / "elsewhere"  # not the source tree, so nothing can come from src/
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    where = subprocess.run([py, "-c", "import igebm, igebm.recipes as r; print(igebm.__file__); print(r.recipe_names())"],
                           capture_output=True, text=True, cwd=work, env=env, check=True).stdout
    assert str(site) in where and "digits" in where and "toy2d" in where
    out = subprocess.run([py, "-m", "igebm", "train", "digits_uncond", "--out", str(work / "run"),
                          "--set", "train.max_steps=1", "--set", "model.channels=8", "--set", "sampler.steps=2",
                          "--set", "buffer.capacity=32", "--set", "train.batch_size=8",
                          "--set", "train.progress=false", "--set", "train.tensorboard=false"],
                         capture_output=True, text=True, cwd=work, env=env)
    assert out.returncode == 0, out.stderr
    assert (work / "run" / "checkpoints" / "step_0000001").is_dir()
    version = subprocess.run([py, "-m", "igebm", "--version"], capture_output=True, text=True, cwd=work, env=env).stdout
    assert version.strip() == f"igebm {_project_version()}"


def _project_version() -> str:
    import tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
