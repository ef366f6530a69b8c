"""The Composition section of a report: zero-shot read-back errors, OR/NOT shares, 2-D MMD, and figures.

Built from the results `benchmarks/composition.py` writes (a dict), so the report
shows exactly the measured numbers. Figures are paths relative to the report folder.
"""

from __future__ import annotations

from pathlib import Path

from igebm.report.html import Section, add_section, render_run_report


def composition_section(results: dict, figures: list[tuple[str, str]]) -> Section:
    rows = [{"model": name, **{k: v for k, v in row.items() if isinstance(v, float)}}
            for name, row in results.get("zero_shot", {}).items()]
    text = [f"Zero-shot (size, position) pairs that neither training split holds ({results.get('split')} pairs), "
            f"{results.get('steps')} Langevin steps ({results.get('mode')} gradient"
            + (f"; AND chains first sample the position expert alone for {results['warm_steps']} steps, weights "
               f"{results.get('and_weights')}" if results.get("warm_steps") else "; from noise")
            + "). Errors are mean "
            "absolute size error and mean centre distance, in fractions of the image, read back by a CNN trained "
            "on shapes_full for evaluation only (size_err, pos_err) and by image moments (moment_*)."]
    members = {k: results.get(f"{k}_runs", []) for k in ("size", "position")}
    if any(len(m) > 1 for m in members.values()):
        text.append("Seed ensembles (the mean energy of runs of one recipe): "
                    + "; ".join(f"{k} expert {' + '.join(m)}" for k, m in members.items() if m) + ".")
    t = results.get("targets")
    if t:
        text.append(f"Composed vs. each expert at its own setting: size {t['size_ratio']:.2f}x, position "
                    f"{t['pos_ratio']:.2f}x (target 1.5x); beats the union EBM: {t['beats_union_ebm']}; beats the "
                    f"decoder: {t['beats_decoder']}.")
    o = results.get("or_not")
    if o:
        text.append(f"OR of centres {o['centres']} ({o.get('or_sampling', 'langevin')} sampling): shares "
                    f"{[round(s, 2) for s in o['or_shares']]}; "
                    f"NOT of the first (w {o['not_weight']}): shares {[round(s, 2) for s in o['not_shares']]}.")
    for name, row in results.get("mmd", {}).items():
        rows.append({"model": f"MMD {name}", **{k: v for k, v in row.items() if isinstance(v, float)}})
    return Section(title="Composition", order=60, text=" ".join(text), images=figures, table=rows)


def add_composition(out_dir: str | Path, results: dict, figures: list[tuple[str, str]]) -> Path:
    """Save the section under out_dir and rebuild out_dir/report.html."""
    add_section(out_dir, composition_section(results, figures))
    return render_run_report(out_dir, "Composition")
