"""Guards that keep the README, CI and the plugin API honest."""
from __future__ import annotations

from benchsuite import hookspecs
from benchsuite.api import KINDS
from conftest import REPO

README = (REPO / "README.md").read_text()


def _setup_commands():
    return [line.strip() for line in README.splitlines() if line.strip().startswith("python3 -m venv")]


def test_readme_gives_exactly_two_setup_commands():
    commands = _setup_commands()
    assert len(commands) == 2
    assert commands[0].endswith("benchsuite run --grid smoke")
    assert "pytest" in commands[1]


def test_ci_runs_exactly_the_readme_test_command():
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert _setup_commands()[1] in ci_lines


def test_every_hook_is_documented_and_tested():
    """test_plugins.test_each_hook_registers_a_third_party_thing runs once per kind in KINDS."""
    hooks = {name for name in dir(hookspecs) if name.startswith("register_")}
    assert hooks == {f"register_{kind}" for kind in KINDS}
    for hook in hooks:
        assert hook in README, f"{hook} is not documented in the README"
