"""The ``benchsuite`` command line."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchsuite import __version__
from benchsuite.api import KINDS, PluginError
from benchsuite.plugins import load_registry

EXIT_FAILED_CELLS = 1
EXIT_USAGE = 2


def _results_root(args) -> Path:
    return Path(args.results or os.environ.get("BENCHSUITE_RESULTS", "results"))


def _run_folder(args) -> Path:
    path = Path(args.run)
    return path if path.is_dir() else _results_root(args) / args.run


def _registry(args):
    registry = load_registry(strict=args.strict)
    for plugin in registry.broken:
        print(f"warning: plugin {plugin.name!r} is broken and was skipped: {plugin.error}", file=sys.stderr)
    return registry


def cmd_plugins(args) -> int:
    registry = _registry(args)
    for p in registry.plugins:
        print(f"{p.name} ({p.distribution} {p.version}){'  BROKEN' if p.broken else ''}")
        print(f"  module: {p.module}")
        if p.broken:
            print(f"  error: {p.error}")
            continue
        print(f"  hooks: {', '.join(p.hooks) or 'none'}")
        for kind, names in sorted(p.registered.items()):
            print(f"  {kind}: {', '.join(names)}")
    return 0


def cmd_list(args) -> int:
    registry = _registry(args)
    entries = registry.entries(args.kind)
    width = max((len(e.name) for e in entries), default=0)
    for e in entries:
        print(f"{e.name:<{width}}  {e.description}  [{e.plugin} {e.version}]")
    return 0


def cmd_run(args) -> int:
    from benchsuite import grid as grids
    from benchsuite.leaderboard import fold_scores, render, summarise
    from benchsuite.progress import make_progress
    from benchsuite.protocol import parse_assignments
    from benchsuite.runner import run_cells
    from benchsuite.store import RunStore

    registry = _registry(args)
    spec = grids.load_spec(args.grid)
    settings = parse_assignments(args.set)
    if args.folds is not None:
        settings["folds"] = args.folds
    filters = {"datasets": args.dataset, "architectures": args.architecture,
               "encoders": args.encoder, "codecs": args.codec}
    grid = grids.expand(spec, registry, filters, settings)
    if args.dry_run:
        _print_dry_run(grid)
        return 0
    if not grid.cells:
        raise PluginError(f"grid {spec.name!r} has no runnable cell after filtering")
    store = RunStore(_results_root(args) / (args.run or spec.name))
    executor = registry.get("executors", args.executor).cls()
    summary = run_cells(grid.cells, registry, store, executor, force=args.force, progress=make_progress())
    print(f"\n{len(summary.done)} cells computed, {len(summary.skipped)} already complete (skipped), "
          f"{len(summary.failed)} failed; results in {store.root}")
    for cell, error in summary.failed:
        print(f"FAILED {cell.id} {cell.describe()}: {error}", file=sys.stderr)
    print()
    print(render(summarise(fold_scores(store, registry))))
    return EXIT_FAILED_CELLS if summary.failed else 0


def _print_dry_run(grid) -> None:
    print(f"grid {grid.spec.name}: protocol {grid.protocol.name}, {grid.protocol.folds} folds")
    for cell in grid.cells:
        print(f"  run   {cell.id}  {cell.describe()}")
    for skipped in grid.skipped:
        print(f"  skip  {skipped.describe()}")
    print(f"{len(grid.cells)} cells to run, {len(grid.skipped)} combinations skipped")


def cmd_leaderboard(args) -> int:
    from benchsuite.leaderboard import fold_scores, render, summarise
    from benchsuite.store import RunStore

    folder = _run_folder(args)
    if not (folder / "cells").is_dir():
        raise PluginError(f"{folder}: no results (expected a run folder with cells/)")
    scores = fold_scores(RunStore(folder), _registry(args))
    if scores.empty:
        raise PluginError(f"{folder}: no completed cell yet")
    print(render(summarise(scores), args.format))
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--strict", action="store_true", help="fail when any plugin is broken")
    common.add_argument("--results", help="results folder (default: $BENCHSUITE_RESULTS or ./results)")
    parser = argparse.ArgumentParser(prog="benchsuite", description=__doc__)
    parser.add_argument("--version", action="version", version=f"benchsuite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("plugins", parents=[common], help="installed plugins, versions, hooks, registrations")
    p = sub.add_parser("list", parents=[common], help="registered things of one kind")
    p.add_argument("kind", choices=KINDS)

    p = sub.add_parser("run", parents=[common], help="run a grid of cells")
    p.add_argument("--grid", default="smoke", help="named grid, 'all', or FILE.toml (default: smoke)")
    p.add_argument("-d", "--dataset", help="glob filter on dataset names")
    p.add_argument("-a", "--architecture", help="glob filter on architecture names")
    p.add_argument("-e", "--encoder", help="glob filter on encoder names")
    p.add_argument("-c", "--codec", help="glob filter on codec names")
    p.add_argument("--folds", type=int, help="number of folds (overrides the protocol)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a protocol setting")
    p.add_argument("--run", help="run name (default: the grid's name)")
    p.add_argument("--executor", default="local", help="executor plugin (default: local)")
    p.add_argument("--force", action="store_true", help="recompute cells that are already complete")
    p.add_argument("--dry-run", action="store_true", help="list the cells and skipped combinations, run nothing")

    p = sub.add_parser("leaderboard", parents=[common], help="mean ± std over folds per dataset and method")
    p.add_argument("run", help="run name or folder")
    p.add_argument("--format", default="md", choices=("md", "csv", "latex"))
    return parser


COMMANDS = {"plugins": cmd_plugins, "list": cmd_list, "run": cmd_run, "leaderboard": cmd_leaderboard}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PluginError as exc:
        print(f"benchsuite: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("benchsuite: interrupted; completed cells are kept, re-run to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
