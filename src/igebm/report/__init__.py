"""Run reports: figures (PNG/GIF), per-capability sections and a static HTML page; the demo."""

from igebm.report.figures import (image_grid, plot_energy_histograms, plot_heatmap, plot_lines, plot_training_curves,
                                  plot_twin_panels, save_gif, save_grid)
from igebm.report.html import Section, add_section, load_sections, render_run_report, write_report

__all__ = [
    "image_grid", "plot_energy_histograms", "plot_heatmap", "plot_lines", "plot_training_curves", "plot_twin_panels",
    "save_gif", "save_grid", "Section", "add_section", "load_sections", "render_run_report", "write_report",
]
