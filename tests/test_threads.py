"""Thread counts: usable cores from affinity and cgroup quota, and an auto count that never oversubscribes."""

import os

import pytest
import torch

from igebm.config import load_config
from igebm.errors import UserError
from igebm.training import threads as th
from igebm.training.resume import run_threads

AFFINITY = len(os.sched_getaffinity(0))


def write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_quota_is_read_and_caps_the_cores(tmp_path):
    write(tmp_path, "cpu.max", "150000 100000\n")
    assert th.cgroup_quota(tmp_path) == pytest.approx(1.5)
    assert th.usable_cores(tmp_path) == 1  # 1.5 cores: one full core for a thread pool
    write(tmp_path, "cpu.max", "max 100000\n")
    assert th.cgroup_quota(tmp_path) is None
    assert th.usable_cores(tmp_path) == AFFINITY


def test_cgroup_v1_quota_is_read(tmp_path):
    write(tmp_path, "cpu/cpu.cfs_quota_us", "100000\n")
    write(tmp_path, "cpu/cpu.cfs_period_us", "100000\n")
    assert th.cgroup_quota(tmp_path) == pytest.approx(1.0)
    assert th.usable_cores(tmp_path) == 1
    write(tmp_path, "cpu/cpu.cfs_quota_us", "-1\n")
    assert th.cgroup_quota(tmp_path) is None


def test_no_cgroup_files_means_the_affinity_mask(tmp_path):
    assert th.cgroup_quota(tmp_path) is None
    assert th.usable_cores(tmp_path) == AFFINITY


def test_auto_threads_leaves_busy_cores_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(th, "usable_cores", lambda root=None: 4)
    assert th.auto_threads(busy=0.1) == 4
    assert th.auto_threads(busy=1.0) == 3
    assert th.auto_threads(busy=7.5) == 1  # never 0


def test_busy_cores_reads_proc_stat():
    assert 0.0 <= th.busy_cores(0.05) <= (os.cpu_count() or 1) + 1e-6


def test_run_threads_explicit_auto_and_resumed(monkeypatch):
    cfg = load_config(None, ["run.threads=3"]).run
    assert run_threads(cfg) == 3
    auto = load_config(None, []).run
    monkeypatch.setattr(th, "auto_threads", lambda: 1)
    assert run_threads(auto) == 1
    assert run_threads(auto, saved=1) == 1  # a resume keeps the run's own count ...
    assert run_threads(auto, saved=10 ** 4) == 1  # ... unless these cores cannot hold it


def test_apply_threads_sets_torch():
    before = torch.get_num_threads()
    try:
        th.apply_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_bad_thread_count_names_the_key():
    with pytest.raises(UserError, match=r"run\.threads"):
        load_config(None, ["run.threads=-1"])
