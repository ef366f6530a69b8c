"""The package layout holds: imports only go down the pipeline, capabilities stay apart, no room is too big."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "igebm"

# The pipeline, bottom to top. A module may import its own layer or any layer below it.
LAYERS = ["data", "models", "sampling", "training", "tasks", "evaluation", "report", "cli"]
# Importable from anywhere: errors, the atomic writer, image grids, and the config tree's root with the recipes.
SHARED = {"igebm", "igebm.errors", "igebm.io", "igebm.grids", "igebm.config", "igebm.recipes"}
# Packages whose sub-packages/modules are separate capabilities and must not import each other.
SEPARATE = {"tasks": 1, "report.sections": 2, "cli": 1}
CLI_SHARED = {"igebm.cli.common"}


def modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        yield "igebm" + "".join("." + p for p in parts), path


def imports(path: Path):
    """Every igebm module a file imports, at module level or inside functions."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("igebm"):
            for alias in node.names:
                yield f"{node.module}.{alias.name}" if node.module != "igebm" else f"igebm.{alias.name}"
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("igebm"))


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def capability(module: str, package: str, depth: int) -> str | None:
    prefix = f"igebm.{package}."
    if not module.startswith(prefix):
        return None
    rest = module[len(prefix):].split(".")
    return ".".join(rest[:depth]) if len(rest) >= depth else None


def test_imports_only_go_down_the_pipeline():
    wrong = []
    for mod, path in modules():
        own = layer(mod)
        for target in imports(path):
            if any(target == s or target.startswith(s + ".") for s in SHARED - {"igebm"}) or target == "igebm":
                continue
            if target.rsplit(".", 1)[0] == "igebm" and target.split(".")[1] in ("__version__", "io", "errors"):
                continue
            t = layer(target)
            if own is not None and t is not None and t > own:
                wrong.append(f"{mod} -> {target}")
    assert not wrong, "imports that go up the pipeline:\n" + "\n".join(wrong)


@pytest.mark.parametrize("package,depth", SEPARATE.items())
def test_capabilities_do_not_import_each_other(package, depth):
    wrong = []
    for mod, path in modules():
        own = capability(mod, package, depth)
        if own is None:
            continue
        for target in imports(path):
            other = capability(target, package, depth)
            if other is not None and other != own and target not in CLI_SHARED and \
                    not any(target.startswith(s + ".") for s in CLI_SHARED):
                if package == "cli" and other == "common":
                    continue
                wrong.append(f"{mod} -> {target}")
    assert not wrong, f"sideways imports inside {package}:\n" + "\n".join(wrong)


def test_no_package_holds_more_than_a_quarter_of_the_code():
    def lines(p: Path) -> int:
        return sum(1 for ln in p.read_text().splitlines() if ln.strip())

    sizes = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        key = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        sizes[key] = sizes.get(key, 0) + lines(path)
    total = sum(sizes.values())
    biggest = max(sizes, key=sizes.get)
    assert sizes[biggest] / total <= 0.25, f"{biggest} holds {sizes[biggest] / total:.0%} of the lines: {sizes}"


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """The checker itself: a training module importing the report layer is flagged."""
    bad = tmp_path / "bad.py"
    bad.write_text("from igebm.report.figures import save_grid\n")
    assert layer("igebm.training.bad") < layer(next(iter(imports(bad))))
