"""The core's imports run one way: down the layers the README's Layout section lists, never back up.

A lower layer that imports a higher one ties the two together (the runner saving models through the lab's
code, planning tools reaching into the runner's grid): moving or testing either then drags the other along.
"""
from __future__ import annotations

import ast

from conftest import REPO

# lowest first; the modules directly in benchsuite/ (the contract, protocol, splits, files, ...) are the ground
# floor, cli.py the top; within a layer any import is fine
LAYERS = ["", "train", "run", "report", "lab", "testing", "cli"]


def _layer(module: str) -> int:
    parts = module.split(".")[1:]
    if parts == ["cli"]:
        return LAYERS.index("cli")
    return LAYERS.index(parts[0]) if len(parts) > 1 and parts[0] in LAYERS else 0


def _imports(path) -> list[tuple[int, str]]:
    """(line, module) of every benchsuite module ``path`` imports, at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "benchsuite":  # from benchsuite import api / lab / __version__
                found += [(node.lineno, f"benchsuite.{alias.name}") for alias in node.names]
            elif node.module.startswith("benchsuite."):
                found.append((node.lineno, node.module))
                found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names
                          if (REPO / "benchsuite" / "/".join(node.module.split(".")[1:]) / f"{alias.name}.py").is_file()]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("benchsuite.")]
    return found


def test_no_import_runs_back_up_a_layer():
    core = REPO / "benchsuite"
    upward = []
    for path in sorted(core.rglob("*.py")):
        module = "benchsuite." + ".".join(path.relative_to(core).with_suffix("").parts)
        for line, imported in _imports(path):
            if _layer(imported) > _layer(module):
                upward.append(f"{path.relative_to(REPO)}:{line} imports {imported}")
    assert upward == []


def test_the_layers_are_the_readmes():
    layout = (REPO / "README.md").read_text().split("## Layout", 1)[1]
    listed = [line.split()[0].rstrip("/") for line in layout.splitlines() if line.startswith("      ")
              and line.split()[0].endswith("/") and line.split()[0].rstrip("/") in LAYERS]
    assert listed == [layer for layer in LAYERS if layer not in ("", "cli")]


def test_the_ground_floor_has_no_circle():
    """The contract, protocol, files and weights modules had imported one another (the contract names the
    protocol's settings, the protocol raised the contract's error): none of them could be loaded or tested
    without the rest. Every import counts, at the top or inside a function."""
    core = REPO / "benchsuite"
    ground = {f"benchsuite.{path.stem}": path for path in core.glob("*.py")}
    edges = {module: {imported for _, imported in _imports(path) if imported in ground and imported != module}
             for module, path in ground.items()}
    circles, done = [], set()

    def visit(module, trail):
        if module in trail:
            circles.append(" -> ".join(trail[trail.index(module):] + [module]))
            return
        if module in done:
            return
        for imported in sorted(edges[module]):
            visit(imported, trail + [module])
        done.add(module)

    for module in sorted(ground):
        visit(module, [])
    assert circles == []
