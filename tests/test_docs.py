"""Guards that keep the README, CI and the plugin API honest."""
from __future__ import annotations

from conftest import REPO

from benchsuite import hookspecs
from benchsuite.api import KINDS

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


def _layout_block() -> list[str]:
    section = README.split("## Layout", 1)[1]
    return [line for line in section.splitlines() if line.startswith("    ")]


def test_every_folder_and_module_in_the_readme_layout_exists():
    """The Layout section is the map a newcomer reads first: every name in it must be real."""
    parents: list[tuple[int, str]] = []
    checked = 0
    for line in _layout_block():
        indent = len(line) - len(line.lstrip())
        while parents and parents[-1][0] >= indent:
            parents.pop()
        head, _, rest = line.strip().partition("  ")
        base = REPO / parents[-1][1] if parents else REPO
        words = head.split()
        for word in words:
            if word.endswith("/"):
                assert (base / word).is_dir(), f"README layout names {base / word}, which does not exist"
            else:
                assert (base / word).is_file(), f"README layout names {base / word}, which does not exist"
            checked += 1
        if len(words) == 1 and words[0].endswith("/"):
            nested = bool(parents)
            folder = (parents[-1][1] + "/" if parents else "") + words[0].rstrip("/")
            parents.append((indent, folder))
            if nested:  # a package's line lists its modules: each must exist
                for name in filter(None, (n.strip() for n in rest.split("(")[0].split(","))):
                    assert (REPO / folder / f"{name}.py").is_file() or (REPO / folder / name).is_dir(), \
                        f"README layout lists {name} in {folder}/, which has no such module"
                    checked += 1
    assert checked > 40
