"""The TOML recipes shipped inside the package, found by name or path.

A recipe may start with `extends = "NAME"` and hold only what differs from
NAME; its first comment lines say the command that runs it and what it reaches.
"""

from __future__ import annotations

from pathlib import Path

from igebm.errors import UserError

RECIPE_DIR = Path(__file__).resolve().parent


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPE_DIR.glob("*.toml") if not p.stem.startswith("_"))


def find_recipe(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in (RECIPE_DIR / name_or_path, RECIPE_DIR / f"{name_or_path}.toml"):
        if candidate.is_file():
            return candidate
    raise UserError(f"config '{name_or_path}' not found: give a TOML path or a recipe name "
                    f"({', '.join(recipe_names()) or 'none found'})")


def recipe_summary(name: str) -> str:
    """The recipe's leading comment lines: its command and what it reaches."""
    lines = []
    for line in find_recipe(name).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").rstrip())
    return " ".join(lines)
