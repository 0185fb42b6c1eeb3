"""Guards that keep the README, CI and the plugin API honest."""
from __future__ import annotations

from conftest import REPO

from benchsuite import hookspecs
from benchsuite.api import BASES, KINDS, Plugin

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


PLUGIN_DOCS = (REPO / "docs" / "plugins.md").read_text()


def _section(heading: str) -> str:
    """The text under a ``### `Name`...`` heading of docs/plugins.md, up to the next heading."""
    start = PLUGIN_DOCS.index(f"### `{heading}`")
    end = PLUGIN_DOCS.find("\n#", start + 1)
    return PLUGIN_DOCS[start:end if end > 0 else None]


def test_every_hook_is_documented_in_the_plugin_guide():
    for hook in (name for name in dir(hookspecs) if name.startswith("register_")):
        assert f"`{hook}(register)`" in PLUGIN_DOCS, f"docs/plugins.md does not document the hook {hook}"


def test_every_public_member_of_every_base_class_is_documented():
    """Introspected from benchsuite.api: a member added to a base class without documentation fails here."""
    for base in [Plugin, *BASES.values()]:
        section = _section(base.__name__)
        members = {name for name in [*vars(base), *vars(base).get("__annotations__", {})] if not name.startswith("_")}
        for member in sorted(members):
            assert f"`{member}`" in section or f"`{member}(" in section, \
                f"docs/plugins.md does not document {base.__name__}.{member} in its section"


def test_every_toolkit_name_is_documented_in_the_plugin_guide():
    from benchsuite import toolkit

    section = PLUGIN_DOCS.split("## The toolkit", 1)[1].split("\n## ", 1)[0]
    for name in toolkit.NAMES:
        assert f"`{name}(" in section or f"`{name}`" in section, f"docs/plugins.md does not document toolkit.{name}"


def test_readme_sends_plugin_authors_to_the_guide():
    section = README.split("## Write a plugin", 1)[1].split("\n## ", 1)[0]
    assert "docs/plugins.md" in section and "benchsuite new-plugin" in section and "benchsuite.testing" in section


def test_the_help_speaks_to_a_lab_and_shows_its_folder_start_to_finish(capsys):
    """`benchsuite --help` says what the tool is for and walks a lab's own folder from check to predict;
    `export --help` says which way y counts."""
    import pytest

    from benchsuite.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    description = text.split("\n\n")[1]
    assert description.startswith("Benchmark landmark-detection methods on your own images")
    assert "``" not in text and "command line." not in text
    for step in ("datasets check my-wings/", "run -d my-wings/ --dry-run", "run -d my-wings/", "report my-wings",
                 "fit my-wings", "predict wing-model new-wings/ --to tps"):
        assert f"benchsuite {step}" in text, step
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = capsys.readouterr().out
    assert "y from the top" in text and "top-left pixel is (0, 0)" in text and "truth_x, truth_y" in text


def test_counts_of_one_are_singular():
    from benchsuite.api import counted

    assert [counted(1, "cell"), counted(2, "cell"), counted(0, "combination"), counted(1, "combination")] == [
        "1 cell", "2 cells", "0 combinations", "1 combination"]
