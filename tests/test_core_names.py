"""The core names no built-in plugin: it asks the registry by declared capability, so a third party can
replace any of them. Only the named grids and protocol presets (TOML data) may name plugins. And the
built-in plugins use the core only through what a third party's may: the contract, the hooks, lazy
imports and the toolkit."""
from __future__ import annotations

import ast
import io
import tokenize

from conftest import REPO

from benchsuite.api import KINDS

# words of the contract that happen to equal a built-in plugin's name: a capability, a table, a Slurm variable
CONTRACT_WORDS = {
    ("api.py", "synthetic"),  # Dataset.synthetic, the declared capability
    ("testing/datasets.py", "synthetic"),  # the kit's check of that capability
    ("report/tables.py", "regression"),  # the "regression" table (fish Table 2)
    ("run/environment.py", "slurm"),  # the CPU limit from SLURM_CPUS_PER_TASK, under its source's name
}


def test_the_core_source_names_no_built_in_plugin(registry):
    builtin = {e.name for kind in KINDS for e in registry.entries(kind)
               if e.cls.__module__.startswith("benchsuite_builtin")}
    assert {"mean-shape", "gaussian", "hit-rate", "folder", "synthetic", "local"} <= builtin
    core = REPO / "benchsuite"
    found = []
    for path in sorted(core.rglob("*.py")):
        where = path.relative_to(core).as_posix()
        for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            if token.type != tokenize.STRING:
                continue
            try:
                value = ast.literal_eval(token.string)
            except (ValueError, SyntaxError):
                continue  # f-strings
            if value in builtin and (where, value) not in CONTRACT_WORDS:
                found.append(f"{where}:{token.start[0]} names {value!r}")
    assert not found, found


PLUGIN_MAY_IMPORT = {"benchsuite.api", "benchsuite.hookspecs", "benchsuite.lazy", "benchsuite.toolkit"}


def _core_modules_used(tree: ast.AST) -> set[str]:
    """Every benchsuite module a plugin file imports, at the top, inside a function, or through lazy_import."""
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            used |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            used |= ({f"{node.module}.{alias.name}" for alias in node.names} if node.module == "benchsuite"
                     else {node.module})
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_import" and node.args
              and isinstance(node.args[0], ast.Constant)):
            used.add(node.args[0].value)
    return {name for name in used if name == "benchsuite" or name.startswith("benchsuite.")}


def test_built_in_plugins_use_the_core_only_through_the_contract_and_the_toolkit():
    plugins = REPO / "plugins" / "benchsuite_builtin"
    found = [f"{path.relative_to(plugins)} imports {module}" for path in sorted(plugins.rglob("*.py"))
             for module in sorted(_core_modules_used(ast.parse(path.read_text())) - PLUGIN_MAY_IMPORT)]
    assert not found, found


def test_every_toolkit_name_resolves():
    from benchsuite import toolkit

    assert set(toolkit.NAMES) == {*toolkit._HOMES, "create_plugin"}
    for name in toolkit.NAMES:
        assert getattr(toolkit, name) is not None, name
