"""`igebm data particles|hand` and `igebm rollout`: trajectory datasets and rollouts of a next-state EBM."""

from __future__ import annotations

import json
from pathlib import Path

from igebm.cli.common import positive_float, positive_int
from igebm.errors import UserError


def cmd_data(args) -> None:
    from igebm.data import trajectories as tr

    if args.dataset == "hand":
        from igebm.data.hand import require_mujoco
        require_mujoco()
    path, traj = tr.generate_trajectories(args.dataset, args.num, args.length, args.seed, args.out or "",
                                          progress=True, overwrite=args.force)
    print(f"{args.dataset}: {len(traj)} trajectories x {traj.length} frames x {traj.dim} numbers in {path}")


def cmd_rollout(args) -> None:
    import numpy as np

    from igebm import io
    from igebm.tasks.trajectories import parse_start, rollout_ebm, rollout_predictor, start_state, trajectory_model
    from igebm.training import load_run

    if args.horizon < 1:
        raise UserError(f"--horizon must be at least 1, got {args.horizon}")
    if args.samples < 1:
        raise UserError(f"--samples must be at least 1, got {args.samples}")
    if args.constraint is not None and not (args.constraint >= 0 and np.isfinite(args.constraint)):
        raise UserError(f"--constraint must be a finite weight of at least 0, got {args.constraint}")
    split, index = parse_start(args.start)
    model = trajectory_model(load_run(args.run_dir))
    # the recipe's settings (picked on validation) unless a flag overrides them
    args.steps, args.temperature, args.init, args.constraint = model.run.cfg.rollout.resolve(
        args.steps, args.temperature, args.init, args.constraint)
    from igebm.tasks.trajectories.constraints import constraint_for
    constraint = constraint_for(model, args.constraint)
    traj = model.split(split)
    history, truth = start_state(traj, index, model.history, args.horizon, split)
    geometry = None
    if model.name == "hand":
        from igebm.data.hand import HandGeometry
        geometry = HandGeometry()

    from igebm.evaluation.baselines.feedforward import ensure_feedforward, load_feedforward
    if load_feedforward(model.run.run_dir) is None:
        print("training the feed-forward baseline (cached in RUN_DIR/baselines/) ...")
    ff, ff_meta = ensure_feedforward(model.run, steps=args.ff_steps)
    ebm = rollout_ebm(model, history, args.horizon, args.samples, args.seed, steps=args.steps, init=args.init,
                      temperature=args.temperature, constraint=constraint)
    pred = rollout_predictor(ff, model.stats, history, args.horizon)

    out = Path(args.out or Path(args.run_dir) / "rollouts" / f"{split}_{index}")
    arrays = {"ebm": ebm.astype(np.float32), "feedforward": pred.astype(np.float32),
              "truth": truth.astype(np.float32), "history": history.astype(np.float32),
              "state_names": np.array(traj.state_names)}
    if model.name == "particles":
        arrays.update(box=np.asarray(traj.meta["box"], np.float32), radius=np.asarray(traj.meta["radius"], np.float32))
    io.write_npz(out / "rollouts.npz", **arrays)

    from igebm.evaluation.trajectories import distances, pairwise_spread
    from igebm.report.trajectory_figures import plot_rollout_frames, save_rollout_gif
    plot_rollout_frames(out / "rollouts.png", model.name, ebm, pred, truth, traj.meta, geometry)
    save_rollout_gif(out / "rollouts.gif", model.name, ebm, pred, truth, traj.meta, geometry)
    d_ebm, d_ff = distances(ebm, truth, model.stats), distances(pred, truth, model.stats)
    summary = {"start": args.start, "horizon": args.horizon, "samples": args.samples, "seed": args.seed,
               "steps": args.steps or model.run.sampler.steps, "init": args.init, "constraint": args.constraint,
               "temperature": args.temperature or model.run.sampler.temperature,
               "ebm_error_mean_of_samples": float(d_ebm[:, -1].mean()),
               "ebm_error_best_of_samples_ORACLE": float(d_ebm[:, -1].min()),
               "feedforward_error": float(d_ff[-1]),
               "ebm_diversity": float(pairwise_spread(ebm[None], model.stats)[0, -1]),
               "feedforward_parameters": ff_meta["parameters"], "ebm_parameters": ff_meta["ebm_parameters"]}
    io.write_json(out / "metrics.json", summary)
    print(f"wrote {out / 'rollouts.npz'}, rollouts.png, rollouts.gif; at T={args.horizon}: "
          + json.dumps({k: round(v, 4) for k, v in summary.items() if k.startswith(("ebm_", "feedforward_e"))}))


def register(sub) -> None:
    d = sub.add_parser("data", help="simulate and cache a trajectory dataset (particles, hand)",
                       description="Simulate a trajectory dataset and cache it as .npz (written atomically). "
                                   "hand needs MuJoCo: pip install -e '.[hand]'.")
    d.add_argument("dataset", choices=["particles", "hand"])
    d.add_argument("--num", type=positive_int, default=2000, help="number of trajectories (default 2000)")
    d.add_argument("--length", type=positive_int, default=102, help="frames per trajectory (default 102)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", help="data directory, or an .npz path (default $IGEBM_DATA_DIR or runs/data); "
                                 "train with --set data.root=DIR")
    d.add_argument("--force", action="store_true", help="simulate again even when the file exists")
    d.set_defaults(func=cmd_data)

    r = sub.add_parser("rollout", help="roll a trajectory EBM and its feed-forward baseline forward from a start",
                       description="S EBM rollouts and one feed-forward rollout from the same history; writes "
                                   "rollouts.npz, rollouts.png (frames at T=0,20,40,60,80), rollouts.gif, metrics.json.")
    r.add_argument("run_dir", help="a run trained with `igebm train particles` or `igebm train hand`")
    r.add_argument("--start", required=True, help="test:IDX (or train:IDX, val:IDX): the trajectory to start from")
    r.add_argument("--horizon", type=int, required=True, help="steps to roll forward (at least 1)")
    r.add_argument("--samples", type=int, default=8, help="EBM rollouts from the same start (default 8)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--steps", type=positive_int,
                   help="Langevin steps per time step (default: the run's rollout.steps, else sampler.steps)")
    r.add_argument("--temperature", type=positive_float,
                   help="sampling temperature (default: the run's rollout.temperature, else the sampler's)")
    r.add_argument("--init", choices=["previous", "noise", "base"],
                   help="each step's chain starts at the last step's change (previous), from noise, or from the "
                        "energy's own base (base: arch mlp-traj-shift); default: the run's rollout.init")
    r.add_argument("--constraint", type=float,
                   help="particles: add the box-and-overlap constraint energy with this weight to the EBM's at "
                        "every step (nats per tolerance of violation; 0 = off; default: the run's rollout.constraint)")
    r.add_argument("--out", help="output folder (default RUN_DIR/rollouts/<split>_<IDX>)")
    r.add_argument("--ff-steps", type=positive_int, default=6000,
                   help="training steps of the feed-forward baseline when it is not cached yet (default 6000)")
    r.set_defaults(func=cmd_rollout)
