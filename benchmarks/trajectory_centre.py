"""Is a shifted trajectory energy's gap to the feed-forward net in its centre or in its sampling? (issue 12)

    OMP_NUM_THREADS=2 python benchmarks/trajectory_centre.py --run runs/trajectories/hand

On the validation split: the base's centre mu(history) of an `mlp-traj-shift` energy, rolled out
alone as a deterministic predictor, against the feed-forward net, and the EBM sampled at a low
temperature. Prints errors at horizons 1, 10 and 50 (RMSE in training-std units).
"""

from __future__ import annotations

import argparse
import os

import torch


class Centre(torch.nn.Module):
    """The energy's base centre as a next-change predictor."""

    def __init__(self, energy):
        super().__init__()
        self.energy = energy

    @torch.no_grad()
    def forward(self, cond):
        return self.energy.mean(self.energy.features(cond))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True)
    p.add_argument("--starts", type=int, default=50)
    p.add_argument("--temperature", type=float, default=0.03)
    a = p.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from igebm.evaluation.baselines.feedforward import ensure_feedforward
    from igebm.evaluation.trajectories import starts_of, summarise
    from igebm.tasks.trajectories import rollout_ebm, rollout_predictor, trajectory_model
    from igebm.training import load_run

    model = trajectory_model(load_run(a.run))
    ff, _ = ensure_feedforward(model.run)
    hist, truth = starts_of(model.split("val"), model.history, 50, a.starts)
    pred = rollout_predictor(ff, model.stats, hist, 50)
    centre = rollout_predictor(Centre(model.run.energy), model.stats, hist, 50)
    sampled = rollout_ebm(model, hist, 50, 8, 0, steps=60, init="noise", temperature=a.temperature)
    for name, rollouts in (("centre alone", centre[:, None]), (f"EBM at T={a.temperature:g}", sampled)):
        r = summarise(model.name, rollouts, pred, truth, model.stats, horizons=(1, 10, 50))["by_horizon"]
        print(name, {h: round(v["ebm_error_mean_of_samples"], 3) for h, v in r.items()},
              "feed-forward", {h: round(v["feedforward_error"], 3) for h, v in r.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
