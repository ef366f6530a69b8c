"""The report's first section: which tasks this model can do, judged from its own measurements.

Each row compares a number the other sections measured with a bar fixed here, so the
verdict follows the model, not the recipe's name. Rows whose numbers were not
measured (an unconditional run has no classifier) say so.
"""

from __future__ import annotations

from igebm.report.html import Section, add_section

GOOD_SAMPLES = (0.95, 5.0)  # judge accuracy at least, Fréchet ratio at most
MIN_CLASS_SHARE = 0.05  # unconditional runs: every class at least this share of the samples
GOOD_CLASSIFIER = 0.9  # clean accuracy of argmin_y E(x, y)


def capability_rows(m: dict) -> list[dict]:
    rows = []
    acc, ratio = m.get("samples_accuracy"), m.get("samples_frechet_ratio")
    if ratio is not None:
        shares = m.get("samples_class_shares")
        if acc is not None:
            ok = acc >= GOOD_SAMPLES[0] and ratio <= GOOD_SAMPLES[1]
            bar = f"judge accuracy >= {GOOD_SAMPLES[0]} and Fréchet <= {GOOD_SAMPLES[1]}x the floor"
            seen = f"accuracy {acc:.3f}, Fréchet {ratio:.2f}x"
        else:
            ok = ratio <= GOOD_SAMPLES[1] and (shares is None or min(shares) >= MIN_CLASS_SHARE)
            bar = f"Fréchet <= {GOOD_SAMPLES[1]}x the floor, every class >= {MIN_CLASS_SHARE:.0%} of samples"
            seen = f"Fréchet {ratio:.2f}x" + (f", smallest class share {min(shares):.3f}" if shares else "")
        rows.append({"task": "generate", "measured": seen, "bar": bar, "can do": ok})
    robust = m.get("robust_accuracy_linf") or {}
    ebm = {k: v for k, v in robust.items() if k.startswith("ebm")}
    if ebm:
        clean = min(v["0"] for v in ebm.values())
        rows.append({"task": "classify (argmin_y E)", "measured": f"clean accuracy {clean:.3f}",
                     "bar": f">= {GOOD_CLASSIFIER}", "can do": clean >= GOOD_CLASSIFIER})
        adaptive = next((v for k, v in ebm.items() if "adaptive" in k), None)
        standard = robust.get("standard classifier")
        if adaptive and standard and "0.1" in adaptive:
            rows.append({"task": "resist attacks (L-inf 0.1, adaptive)",
                         "measured": f"{adaptive['0.1']:.2f} vs standard classifier {standard['0.1']:.2f}",
                         "bar": "above the standard classifier, and a classifier at all",
                         "can do": clean >= GOOD_CLASSIFIER and adaptive["0.1"] > standard["0.1"]})
    else:
        rows.append({"task": "classify (argmin_y E)", "measured": "not measured (unconditional run)",
                     "bar": "-", "can do": False})
    ood = m.get("ood_auroc_average") or {}
    ebm_ood = m.get("ebm_ood_auroc_average")
    if ebm_ood is not None and "Gaussian mixture" in ood:
        rows.append({"task": "detect OOD inputs", "measured": f"average AUROC {ebm_ood:.3f} vs Gaussian mixture "
                     f"{ood['Gaussian mixture']:.3f}", "bar": "at least the Gaussian mixture (demo size)",
                     "can do": ebm_ood >= ood["Gaussian mixture"]})
    comp = m.get("completion_bottom-half")
    if comp and "mse_mean_of_s" in comp and "same-class Gaussian samples mse_mean_of_s" in comp:
        ebm_c, gauss = comp["mse_mean_of_s"], comp["same-class Gaussian samples mse_mean_of_s"]
        rows.append({"task": "complete images (bottom half, label given)",
                     "measured": f"mean-of-S MSE {ebm_c:.4f} vs same-class Gaussian samples {gauss:.4f}",
                     "bar": "below the same-class Gaussian's samples", "can do": ebm_c < gauss})
    return rows


def add_capabilities(run_dir, metrics: dict) -> list[dict]:
    rows = capability_rows(metrics)
    add_section(run_dir, Section(
        title="What this model can do (measured)", order=1,
        text=("Each verdict compares a number measured in the sections below with a fixed bar; the recipe's "
              "name plays no part. Demo-size measurements: benchmarks/ has the full ones."),
        table=rows))
    return rows
