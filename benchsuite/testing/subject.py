"""The class under test: one-line failures, its making through the registry, its installed version, its cell id."""
from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.metadata
import json
import os
import pickle
import subprocess
import sys
from typing import Any, NoReturn

from benchsuite import __version__, api
from benchsuite.api import PluginError
from benchsuite.plugins import ENTRY_POINT_GROUP, Registry, canonical_params
from benchsuite.plugins import registry as installed_registry
from benchsuite.protocol import load_protocol
from benchsuite.run.cells import Cell, Component


class Subject:
    """The class under test: its failures name it, the member at fault and what is wrong."""

    def __init__(self, kind: str, cls: Any):
        self.kind, self.cls = kind, cls
        self.label = f"{getattr(cls, '__qualname__', cls)} ({kind[:-1]} {getattr(cls, 'name', '?')!r})"
        self.notes: list[str] = []  # what could not be checked here, and why
        self.plugin, self.version = "(not installed)", "?"  # the entry point that brings it, its version

    def fail(self, member: str, what: str) -> NoReturn:
        raise AssertionError(f"{self.label}: {member}: {what}")

    def expect(self, condition: Any, member: str, what: str) -> None:
        if not condition:
            self.fail(member, what)

    @contextlib.contextmanager
    def calling(self, member: str):
        """Plugin code runs inside: whatever it raises becomes a one-line failure naming ``member``."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - any error of the plugin is the finding
            if isinstance(exc, AssertionError) and str(exc).startswith(self.label):
                raise
            raise AssertionError(f"{self.label}: {member}: raised {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def start(kind: str, cls: Any, params: dict[str, Any]) -> tuple[Subject, Registry, Any]:
    """Contract, metadata, then an instance made the way a grid makes one (None when unavailable here)."""
    subject = Subject(kind, cls)
    problems = api.contract_problems(kind, cls)
    if problems:
        subject.fail("contract", "; ".join(problems))
    subject.expect(cls.description.strip() and "\n" not in cls.description.strip(), "description",
                   f"must be one line for listings, got {cls.description!r}")
    subject.plugin, subject.version = installed_plugin(subject)
    try:
        registry = installed_registry().including(kind, cls, subject.plugin, subject.version)
    except PluginError as exc:
        subject.fail("name", str(exc))
    with subject.calling("unavailable()"):
        why = cls.unavailable()
    subject.expect(why is None or (isinstance(why, str) and why.strip()), "unavailable()",
                   f"must return None or a reason, got {why!r}")
    if why:
        subject.notes.append(f"not available here, nothing run: {why}")
        return subject, registry, None
    subject.expect(_is_toml(params), "parameters", f"{params!r} are not what a grid file can hold (TOML values)")
    with subject.calling(f"__init__({params_text(params)})"):
        instance = registry.create(kind, cls.name, params)
    return subject, registry, instance


def params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _is_toml(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_toml(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_toml(v) for v in value)
    return isinstance(value, (str, bool, int, float))


def installed_plugin(subject: Subject) -> tuple[str, str]:
    """The entry point (and its distribution's version) that brings ``cls`` to the suite; not installed: a note."""
    module = subject.cls.__module__
    found = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
             if module == ep.module or module.startswith(ep.module + ".")]
    if found:
        ep = max(found, key=lambda e: len(e.module))
        version = ep.dist.version if ep.dist is not None else None
        subject.expect(version, "version", f"distribution {ep.dist.name if ep.dist else '?'} has no version")
        return ep.name, version
    distributions = _distributions(tuple(sys.path)).get(module.partition(".")[0])
    if distributions:
        subject.fail("entry point", f"module {module} is installed with {', '.join(distributions)} but no "
                                    f"'{ENTRY_POINT_GROUP}' entry point names it, so the suite never loads it")
    subject.notes.append(f"{module} is not installed: its version was not checked")
    return "(not installed)", "?"


@functools.lru_cache(maxsize=4)
def _distributions(path: tuple[str, ...]) -> dict[str, list[str]]:
    """Top-level modules -> the installed distributions that provide them, for this ``sys.path`` (slow: cached)."""
    return importlib.metadata.packages_distributions()


# --- the cell id ---------------------------------------------------------------------------------------------

AXES = {"datasets": 0, "architectures": 1, "encoders": 2, "codecs": 3}
_SLOT = AXES | {"methods": AXES["architectures"]}  # a method stands on the architectures axis of a grid


def cell_of(kind: str, cls: type, params: dict[str, Any], plugin: str, version: str) -> Cell:
    """A cell with this plugin on its axis and placeholders elsewhere: what the grid builds from the entry."""
    owner = f"{kind[:-1]} {cls.name}"
    parts: list[Any] = [Component(f"kit-{axis}") for axis in AXES]
    parts[_SLOT[kind]] = Component(cls.name, canonical_params(cls, params, owner, drop_defaults=True))
    versions = {"benchsuite": __version__, plugin: version}
    reads = frozenset(cls.reads) if kind == "methods" else None  # its identity holds what it reads
    return Cell(*parts, fold=0, protocol=load_protocol("smoke"), versions=versions, reads=reads)


def cell_id_in_this_process(kind: str, cls: type, params: dict[str, Any]) -> str:
    """Run in a fresh process by :func:`check_cell_id`."""
    plugin, version = installed_plugin(Subject(kind, cls))
    return cell_of(kind, cls, params, plugin, version).id


_FRESH = """
import importlib, json, sys
from benchsuite.testing.subject import cell_id_in_this_process
job = json.load(sys.stdin)
cls = importlib.import_module(job["module"])
for part in job["qualname"].split("."):
    cls = getattr(cls, part)
print(cell_id_in_this_process(job["kind"], cls, job["params"]))
"""


def check_cell_id(subject: Subject, params: dict[str, Any], fresh_process: bool) -> None:
    """The same grid entry gives the same cell id twice, after a round trip to a worker, and in a fresh process."""
    cls, kind = subject.cls, subject.kind
    with subject.calling("parameters"):
        cells = [cell_of(kind, cls, params, subject.plugin, subject.version) for _ in range(2)]
    try:
        json.dumps(cells[0].identity(), sort_keys=True)
    except TypeError as exc:
        subject.fail("parameters", f"the cell identity is not plain data ({exc}): its id would depend on str()")
    subject.expect(cells[0].id == cells[1].id, "parameters", "the same grid entry gave two different cell ids")
    subject.expect(pickle.loads(pickle.dumps(cells[0])).id == cells[0].id, "parameters",
                   "the cell id changed after a round trip through pickle (how cells reach worker processes)")
    if not fresh_process:
        return
    if _importable(cls) is not cls:
        subject.notes.append(f"cell id not checked in a fresh process: {cls.__qualname__} is not importable by name")
        return
    job = json.dumps({"kind": kind, "module": cls.__module__, "qualname": cls.__qualname__, "params": params})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", _FRESH], input=job, capture_output=True, text=True, env=env,
                         check=False)
    subject.expect(out.returncode == 0, "parameters", f"a fresh process could not compute the cell id: "
                                                      f"{(out.stderr.strip().splitlines() or ['?'])[-1]}")
    subject.expect(out.stdout.strip() == cells[0].id, "parameters",
                   f"a fresh process gave cell id {out.stdout.strip()}, this one {cells[0].id}")


def _importable(cls: type) -> Any:
    try:
        found: Any = importlib.import_module(cls.__module__)
        for part in cls.__qualname__.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return found
