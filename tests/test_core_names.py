"""The core names no built-in plugin: it asks the registry by declared capability, so a third party can
replace any of them. Only the named grids and protocol presets (TOML data) may name plugins."""
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
