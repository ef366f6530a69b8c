"""Find the bundled TOML recipes (configs/) by name or path."""

from __future__ import annotations

from pathlib import Path

from igebm.errors import UserError

RECIPE_DIR = Path(__file__).resolve().parents[2] / "configs"


def find_recipe(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in (RECIPE_DIR / name_or_path, RECIPE_DIR / f"{name_or_path}.toml"):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.stem for p in RECIPE_DIR.glob("*.toml"))) or "none found"
    raise UserError(f"config '{name_or_path}' not found: give a TOML path or a recipe name ({known})")
