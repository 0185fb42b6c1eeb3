"""Benchmark landmark-detection methods on your own images, keep the winner, and landmark new images with it.

Point it at a folder of images with their landmarks (TPS, LabelMe, DeepLabCut or CSV): it runs the
methods a lab would compare (the mean shape, dlib's shape predictor as in ml-morph, a pretrained U-Net)
with k-fold cross-validation, and writes tables, significance tests and an HTML page to send round."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchsuite import __version__
from benchsuite.api import KINDS, PluginError, counted, one_line
from benchsuite.files import storage_message
from benchsuite.lab import datasets as datasets_cli
from benchsuite.lab.datasets import folder_component
from benchsuite.plugins import load_registry
from benchsuite.protocol import parse_assignments

EXIT_FAILED_CELLS = 1
EXIT_USAGE = 2


def _run_folder(args) -> Path:
    """A run name under the results folder first, else a path to a run folder."""
    from benchsuite.run.launch import resolve_run

    return resolve_run(args.run, args.results)


def _side_folder(name: str, results: str | None) -> Path:
    """One side of ``compare``: a run name under the results folder, else a path (a run or a published folder)."""
    from benchsuite.run.launch import results_root

    under = results_root(results) / name
    return under if under.is_dir() else Path(name)


def _registry(args):
    registry = load_registry(strict=args.strict)
    for problem in registry.problems():
        print(f"warning: {problem}", file=sys.stderr)
    return registry


def cmd_plugins(args) -> int:
    registry = load_registry(strict=args.strict)
    conflicting = {(r.plugin, kind, name) for (kind, name), regs in registry.conflicts.items() for r in regs}
    for p in registry.plugins:
        print(f"{p.name} ({p.distribution} {p.version}){'  BROKEN' if p.broken else ''}")
        print(f"  module: {p.module}")
        if p.broken:
            print(f"  error: {p.error}")
            continue
        print(f"  hooks: {', '.join(p.hooks) or 'none'}")
        for kind, names in sorted(p.registered.items()):
            shown = [f"{n} (CONFLICT)" if (p.name, kind, n) in conflicting else n for n in names]
            print(f"  {kind}: {', '.join(shown)}")
        for reason in p.rejected:
            print(f"  REJECTED {reason}")
    for (kind, name), regs in sorted(registry.conflicts.items()):
        print(f"CONFLICT {kind[:-1]} {name!r}: registered by " + " and ".join(
            f"{r.plugin} ({r.distribution} {r.version})" for r in regs) + "; uninstall one of them to use it")
    return 0


def cmd_list(args) -> int:
    registry = _registry(args)
    entries = registry.entries(args.kind)
    width = max((len(e.name) for e in entries), default=0)
    for e in entries:
        size = ""
        if args.kind == "architectures":
            from benchsuite.train.model_size import describe_count, parameter_count

            size = describe_count(parameter_count(registry, e.cls, args.landmarks), args.landmarks)
        print(f"{e.name:<{width}}  {e.description}{f' ({size})' if size else ''}  [{e.plugin} {e.version}]")
        pretrained = getattr(e.cls, "pretrained", None)
        if pretrained is not None:
            from benchsuite import weights

            why = weights.unavailable(pretrained)
            print(f"{'':<{width}}  {pretrained.describe()}; {why or 'installed'}")
    return 0


def _filters(args):
    from benchsuite.run.launch import Filters

    return Filters.of(datasets=args.dataset, architectures=args.architecture, encoders=args.encoder,
                      codecs=args.codec)


def _settings(args, spec=None, registry=None) -> dict:
    """--set and --folds, and --budget spread evenly over the grid's network cells as each one's max_minutes."""
    from benchsuite.protocol import parse_assignments
    from benchsuite.run.launch import parse_duration, spread_budget

    settings = parse_assignments(args.set)
    if args.folds is not None:
        settings["folds"] = args.folds
    if getattr(args, "budget", None):
        settings = spread_budget(spec, registry, _filters(args), settings, parse_duration(args.budget))
    return settings


def _spec_with_own_folders(args, registry):
    """The grid, with ``-d PATH`` folders replacing its datasets (the patterns among -d stay filters)."""
    from benchsuite.run import grid as grids
    from benchsuite.run.launch import with_split_file

    for value in args.dataset:
        if ("/" in value or value.startswith(".")) and not Path(value).exists():
            raise PluginError(f"-d {value}: no such folder or file")
    own = [c for c in (folder_component(d, registry) for d in args.dataset) if c]
    spec = grids.load_spec(args.grid or ("lab" if own else "smoke"))
    if own:
        spec.axes["datasets"] = own
        args.dataset = [d for d in args.dataset if not folder_component(d, registry)]
    elif args.dataset and not spec.axes["datasets"]:  # a grid for any data (lab) on installed datasets by name
        spec.axes["datasets"] = list(args.dataset)
    if args.splits:
        spec = with_split_file(spec, args.splits)
    return spec, own


def cmd_run(args) -> int:
    from benchsuite.report.leaderboard import command, fold_scores
    from benchsuite.run.launch import check_launch, plan_grid, run_grid, run_name_from
    from benchsuite.run.progress import make_progress
    from benchsuite.train.loop import Runtime

    registry = _registry(args)
    spec, own = _spec_with_own_folders(args, registry)
    options = {key: _literal(value) for key, value in parse_assignments(args.executor_option).items()}
    if args.jobs is not None:
        options["jobs"] = args.jobs
    run_name = args.run if args.run is not None else (run_name_from(own[0]["label"]) if len(own) == 1 else None)
    runtime = Runtime(amp=args.amp, channels_last=args.amp, checkpoint_every_s=args.checkpoint_every,
                      keep_weights=args.keep_weights != "none", precision=args.precision, deterministic=args.deterministic)
    settings = _settings(args, spec, registry)
    if args.dry_run:
        plan = plan_grid(spec, registry=registry, filters=_filters(args), settings=settings)
        checked = check_launch(plan, registry, results=args.results, run=run_name, executor=args.executor,
                               executor_options=options, runtime=runtime, change_grid=args.change_grid)
        _print_dry_run(plan, checked, registry)
        for problem in checked.problems:
            print(f"benchsuite: error: {problem}", file=sys.stderr)
        return EXIT_USAGE if checked.problems else 0
    result = run_grid(spec, results=args.results, run=run_name, registry=registry, filters=_filters(args),
                      settings=settings, executor=args.executor, executor_options=options, force=args.force,
                      change_grid=args.change_grid, runtime=runtime, progress=make_progress())
    summary, store = result.summary, result.store
    print(f"\n{counted(len(summary.done), 'cell')} computed, {len(summary.skipped)} already complete (skipped), "
          f"{len(summary.failed)} failed; results in {store.root}")
    if summary.busy:
        print(f"{counted(len(summary.busy), 'cell')} being computed by another process; run again to collect them")
    if summary.pending:
        print(f"{counted(len(summary.pending), 'cell')} submitted and not finished yet; run again (or benchsuite "
              "status) later")
    for cell, error in summary.failed:
        print(f"FAILED {cell.id} {cell.describe()}: {error}", file=sys.stderr)
    print(_disk_line(store.root, registry, args.keep_weights))
    scores = fold_scores(store, registry)
    if not scores.empty:
        print()
        print(command(store.root, registry))  # the leaderboard itself, with its flags (collapsed, worse than …)
        name = store.root.name
        print(f"\nnext: benchsuite stats {name}   (which differences are significant)\n"
              f"      benchsuite report {name}  (one HTML page with tables, statistics and predictions drawn)\n"
              f"      benchsuite fit {name} METHOD  (keep the winner; then benchsuite predict to landmark new images)")
    return 0 if result.ok else EXIT_FAILED_CELLS


def _disk_line(folder: Path, registry, keep: str) -> str:
    """What the run takes on disk, after removing the models --keep-weights best does not keep."""
    from benchsuite.lab.kept import keep_best_models
    from benchsuite.run.launch import run_status

    freed = keep_best_models(folder, registry) if keep == "best" else 0
    status = run_status(folder)
    removed = (f"; {freed / 1e6:.1f} MB of models removed: only each dataset's best method keeps its fold models "
               "(--keep-weights all keeps every one)") if freed else ""
    return f"{status.disk_bytes / 1e6:.1f} MB on disk in {folder}, {status.model_bytes / 1e6:.1f} MB of them kept models" \
        + removed


def _literal(text: str):
    """Command-line option values: numbers and booleans as such, anything else as text."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _print_dry_run(plan, checked, registry) -> None:
    """The run's name and folder, each cell (to run, or already complete there) with its estimate, what is
    skipped and why, the datasets not here yet, and the estimated time in all."""
    from benchsuite.run.estimate import describe_cells, earlier_trainings, total_estimate
    from benchsuite.run.store import RunStore

    grid = plan.grid
    store = RunStore(checked.folder) if checked.folder is not None and checked.folder.is_dir() else None
    done = {c.id for c in plan.cells if store and (store.inspect(c.id)[0] or {}).get("status") == "ok"}
    todo = [c for c in plan.cells if c.id not in done and c.dataset.label not in checked.missing]
    details = describe_cells(todo, registry, earlier_trainings(checked.folder.parent if checked.folder else None))
    where = f"run {checked.folder.name} in {checked.folder}" if checked.folder is not None else "run (refused)"
    state = "new" if store is None else f"{len(done)} of {counted(len(plan.cells), 'cell')} complete"
    print(f"{where} ({state})")
    print(f"grid {grid.spec.name}: protocol {grid.protocol.name}, {counted(grid.protocol.folds, 'fold')}")
    for cell in plan.cells:
        if cell.id in done:
            print(f"  done  {cell.id}  {cell.describe()}  [complete in this run: not run again]")
        elif cell.id in details:
            print(f"  run   {cell.id}  {cell.describe()}  [{details[cell.id][0]}]")
        else:
            print(f"  run   {cell.id}  {cell.describe()}  [dataset not here yet]")
    for skipped in plan.skipped:
        print(f"  skip  {skipped.describe()}")
    for note in grid.notes + checked.notes:
        print(f"  note  {note}")
    for label, where in checked.missing.items():
        print(f"  missing dataset {label}: {where.removeprefix(label + ': ')}")
    waiting = len(plan.cells) - len(done)
    print(f"{counted(waiting, 'cell')} to run, {len(done)} already complete, "
          f"{counted(len(plan.skipped), 'combination')} skipped" + total_estimate(details, checked.executor))


def _warn_corrupt(folder: Path) -> None:
    """One line per cell that reports leave out because its files are damaged."""
    from benchsuite.run.store import RunStore, what_becomes_of_corrupt

    store = RunStore(folder)
    corrupt = store.corrupt()
    manifest = store.manifest() if corrupt else None
    grid_cells = set(manifest["cells"]) if manifest else None
    for cell_id, problem in corrupt.items():
        print(f"benchsuite: warning: {folder / 'cells' / cell_id}: corrupt ({problem}), left out; "
              f"{what_becomes_of_corrupt(cell_id, grid_cells)}", file=sys.stderr)


def cmd_leaderboard(args) -> int:
    from benchsuite.report.leaderboard import command

    folder = _run_folder(args)
    _warn_corrupt(folder)
    print(command(folder, _registry(args), args.table, args.format, args.alpha, args.method, args.dataset, args.plot,
                  args.dagger, include_stale=args.include_stale, candidates=args.candidates))
    return 0


def cmd_stats(args) -> int:
    from benchsuite.report.significance import command

    folder = _run_folder(args)
    _warn_corrupt(folder)
    print(command(folder, _registry(args), args.metric, args.alpha, args.posthoc, args.rope, args.out,
                  include_stale=args.include_stale))
    return 0


def cmd_compare(args) -> int:
    from benchsuite.report.compare import command

    folders = [_side_folder(name, args.results) for name in (args.run_a, args.run_b)]
    text, code = command(*folders, _registry(args), args.metric, args.alpha, args.fail_worse, args.format,
                         include_stale=args.include_stale)
    print(text)
    return code


def cmd_report(args) -> int:
    """One self-contained HTML page with the run's tables, tests, charts and predictions."""
    from benchsuite.report import page

    folder = _run_folder(args)
    _warn_corrupt(folder)
    out, figures = page.write(folder, _registry(args), Path(args.out) if args.out else folder / "report.html",
                              args.alpha, args.rope, Path(args.figures) if args.figures else None)
    print(f"report written to {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if args.figures:
        print(f"{len(figures)} figures written under {args.figures}")
    return 0


def cmd_export(args) -> int:
    """Every prediction of a run as one tidy table."""
    from benchsuite.report.export import export

    folder = _run_folder(args)
    _warn_corrupt(folder)
    out, rows = export(folder, args.to, Path(args.out) if args.out else None)
    print(f"{rows} predictions written to {out}")
    return 0


def cmd_status(args) -> int:
    """Which cells of a run are complete, failed, being computed, or not started."""
    from benchsuite.run.launch import run_status

    status = run_status(_run_folder(args))
    grid = f"grid {status.grid}" if status.grid else "no grid.json: the cells found in it"
    print(f"run {status.folder} ({grid}): {counted(status.total, 'cell')}, {status.disk_bytes / 1e6:.1f} MB on disk "
          f"({status.model_bytes / 1e6:.1f} MB of kept models)")
    for state, ids in status.states.items():
        print(f"  {state:<12} {len(ids)}")
    if status.not_asked:
        print(f"  ({counted(status.not_asked, 'more cell')} of the grid left out by the run's filters: not part of "
              "this run; run again without those filters to add them)")
    for cell_id, error in status.errors.items():
        state = "corrupt" if cell_id in status.states["corrupt"] else "failed"
        print(f"  {state} {cell_id}: {error}")
    return 0 if status.complete else EXIT_FAILED_CELLS


def cmd_fit(args) -> int:
    """Keep a leaderboard's method as a model folder: refitted on all images, or its fold models as an ensemble."""
    from benchsuite.lab import fit
    from benchsuite.run.launch import load_run
    from benchsuite.run.progress import make_progress

    registry = _registry(args)
    run = load_run(args.run, results=args.results, registry=registry)
    out = Path(args.out) if args.out else fit.default_folder(args.method)
    if args.from_folds:
        info = fit.from_folds(run, args.method, out, registry, args.dataset)
        print(f"model folder {out}: the {len(info.members)} fold models of {args.method!r} as an ensemble")
    else:
        progress = make_progress()
        info = fit.refit(run, args.method, out, registry, args.dataset, on_epoch=progress.epoch)
        trained = info.data["trained_on"]
        held_out = f" (+{trained['val']} held out for validation)" if trained["val"] else ""
        print(f"model folder {out}: {args.method!r} trained on {trained['train']} images{held_out}")
    print(f"next: benchsuite predict {out} IMAGES... --to tps|dlc|labelme|coco|csv")
    return 0


def cmd_predict(args) -> int:
    """Landmarks for new images in the lab's own annotation format; errors too where they are annotated."""
    from benchsuite.lab import predict

    registry = _registry(args)
    advance, stop = predict.progress_bar()
    try:
        result = predict.predict(Path(args.model), [Path(p) for p in args.images], registry, advance,
                                 note=lambda text: print(f"note: {text}", file=sys.stderr))
    finally:
        stop()
    out = Path(args.out) if args.out else predict.default_folder(result.images, args.to)
    files = predict.write(result, registry, args.to, out, overwrite=args.overwrite)
    print(f"{len(result.samples)} images predicted; written: {', '.join(map(str, files[:3]))}"
          + (f" and {len(files) - 3} more" if len(files) > 3 else ""))
    for text in (predict.proofreading(args.to, out), predict.error_report(result)):
        if text:
            print(text)
    return 0


def cmd_splits(args) -> int:
    """The folds a run would use, as CSV on stdout (dataset, image, fold, part), without running anything."""
    import csv

    from benchsuite.protocol import load_protocol
    from benchsuite.run.launch import dataset_split_rows

    registry = _registry(args)
    settings = parse_assignments(args.set) | ({"folds": args.folds} if args.folds is not None else {})
    entry = folder_component(args.dataset, registry) or {"name": args.dataset}
    if args.splits:
        entry["splits"] = args.splits
    rows = dataset_split_rows(registry, entry, load_protocol(args.protocol, settings))
    writer = csv.DictWriter(sys.stdout, ["dataset", "image", "fold", "part"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return 0


def cmd_bench(args) -> int:
    from tabulate import tabulate

    if args.what == "gpu":
        return _gpu_check(args)

    from benchsuite.run.bench import bench

    table = bench(_registry(args), args.architecture, args.size, args.batch_size, args.images, args.epochs,
                  args.encoder, amp=args.amp)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.output, index=False)
    print(tabulate(table, headers="keys", tablefmt="github", showindex=False, floatfmt=".3g"))
    return 0


def _gpu_check(args) -> int:
    from benchsuite.run import gpu_check
    from benchsuite.run.launch import results_root

    out = Path(args.out) if args.out else gpu_check.default_out(results_root(args.results))
    result = gpu_check.gpu_check(_registry(args), quick=args.quick)
    gpu_check.write(result, out)
    for row in result["networks"]:
        busy = "" if row["busy_fraction"] is None else f", busy {row['busy_fraction']:.0%}"
        print(f"{row['network']} at {row['precision']}: {row['loop_images_per_s']:.1f} images/s, efficiency "
              f"{row['efficiency']:.2f}{busy}, {row['host_syncs_per_step']:g} host reads per step")
    for skipped in result["skipped"]:
        print(f"not measured: {skipped}")
    print(f"{result['device']}: written to {out} in {result['seconds']:.0f} s")
    return 0


def cmd_floor(args) -> int:
    """The error floor of each codec's decoding on each dataset at the grid's input size (no training)."""
    from tabulate import tabulate

    from benchsuite.run.launch import grid_floors

    registry = _registry(args)
    spec, _ = _spec_with_own_folders(args, registry)
    table = grid_floors(spec, registry, parse_assignments(args.set), args.dataset, args.codec)
    print(tabulate(table, headers=["dataset", "input", "δ (px)", "codec", "floor MRE (px)", "worst image (px)",
                                   "images"], tablefmt="github", showindex=False, floatfmt=".3f"))
    print("\nfloor: mean over images of the mean radial error (original pixels) left by encoding the true landmarks "
          "at the network input and decoding them; no network can do better with that decoding at that size")
    return 0


def cmd_new_plugin(args) -> int:
    from benchsuite.scaffold import new_plugin

    folder = new_plugin(args.kind, args.name, args.out)
    print(f"wrote the {args.kind.rstrip('s')} plugin package {args.name!r} in {folder}/; next:")
    print(f"  cd {folder} && pip install -e '.[test]' && python -m pytest -s   # the conformance kit")
    print("  then make the reference run for CI as its README.md says")
    return 0


EXAMPLES = """\
a lab's folder, start to finish:
  benchsuite datasets check my-wings/     is the folder readable, and what does it hold?
  benchsuite run -d my-wings/ --dry-run   what would run, and for about how long here
  benchsuite run -d my-wings/             the lab grid, 5 folds, as run "my-wings"
  benchsuite report my-wings              the page: leaderboard, tests, training, overlays
  benchsuite fit my-wings "dlib shape predictor (ml-morph options)" --out wing-model
                                          keep a method, trained on all your images
  benchsuite predict wing-model new-wings/ --to tps
                                          landmark new images, to proofread in tpsDig

'benchsuite COMMAND --help' describes each command."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--strict", action="store_true", help="fail when any plugin is broken")
    common.add_argument("--results", help="results folder (default: $BENCHSUITE_RESULTS or ./results)")
    parser = argparse.ArgumentParser(prog="benchsuite", description=__doc__, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"benchsuite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("plugins", parents=[common], help="installed plugins, versions, hooks, registrations")
    p = sub.add_parser("list", parents=[common], help="registered things of one kind")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--landmarks", type=int, default=25, metavar="N",
                   help="architectures: count parameters for N landmarks (default: 25)")

    p = sub.add_parser("run", parents=[common], help="run a grid of cells")
    p.add_argument("--grid", help="named grid, 'all', or FILE.toml (default: lab with -d FOLDER, else smoke)")
    p.add_argument("-d", "--dataset", action="append", default=[],
                   help="glob filter on dataset names, or a folder of your own images + landmarks (repeatable)")
    p.add_argument("-a", "--architecture", action="append", default=[], help="glob filter on architecture names "
                   "(repeatable)")
    p.add_argument("-e", "--encoder", action="append", default=[], help="glob filter on encoder names (repeatable)")
    p.add_argument("-c", "--codec", action="append", default=[], help="glob filter on codec names (repeatable)")
    p.add_argument("--folds", type=int, help="number of folds (overrides the protocol)")
    p.add_argument("--budget", metavar="DURATION", help="total training time for the grid's network cells, "
                   "e.g. 2h or 90m, spread evenly (each cell stops at its share with its best-validation weights)")
    p.add_argument("--splits", metavar="FILE.csv", help="your own split for the datasets: image,fold or image,part "
                   "or image,fold,part (e.g. another run's splits.csv)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a protocol setting")
    p.add_argument("--run", help="run name (default: the grid's name)")
    p.add_argument("--executor", help="executor plugin (default: the grid's [executor] name, else local)")
    p.add_argument("-j", "--jobs", type=int, help="cells at a time (local: worker processes, dealt round the visible GPUs)")
    p.add_argument("-x", "--executor-option", action="append", default=[], metavar="KEY=VALUE",
                   help="executor option, e.g. -x partition=gpu -x timeout_min=120")
    p.add_argument("--change-grid", action="store_true", help="let an existing run adopt a changed grid")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision and channels_last (default: on for a GPU, off on a CPU)")
    p.add_argument("--precision", choices=("auto", "bf16", "fp16", "fp32"), default="auto",
                   help="what a GPU computes in (default auto: bf16 where supported, else fp16 with gradient "
                        "scaling; a CPU always computes in fp32); recorded in each cell")
    p.add_argument("--deterministic", action="store_true",
                   help="cuDNN's deterministic algorithms, bit-identical repeats on a GPU at some speed (default: "
                        "the fastest algorithms, cudnn.benchmark); recorded in each cell")
    p.add_argument("--checkpoint-every", type=float, default=300.0, metavar="SECONDS",
                   help="checkpoint long cells this often (default: 300)")
    p.add_argument("--keep-weights", choices=("best", "all", "none"), default="best",
                   help="which cells keep their trained models on disk: best (default) keeps the fold models of "
                   "each dataset's best method once the run is complete, what fit --from-folds on the winner "
                   "reads; all keeps every one; none saves none (fit without --from-folds trains afresh anyway)")
    p.add_argument("--force", action="store_true", help="recompute cells that are already complete")
    p.add_argument("--dry-run", action="store_true", help="list the cells and skipped combinations, run nothing")

    formats = ("plain", "md", "markdown", "latex", "csv", "html")
    p = sub.add_parser("bench", parents=[common], help="images/s and pipeline efficiency per architecture; "
                       "'bench gpu': the GPU check")
    p.add_argument("what", nargs="?", choices=("architectures", "gpu"), default="architectures",
                   help="architectures (default): each one's speed; gpu: how busy the lab grid's networks keep the "
                   "device found, as one JSON file (results/bench/gpu-TIME.json), within 8 minutes")
    p.add_argument("--quick", action="store_true", help="gpu: the same measurements at tiny sizes (a CPU test)")
    p.add_argument("--out", metavar="FILE.json", help="gpu: where to write the JSON")
    p.add_argument("-a", "--architecture", default="*", help="glob filter on architecture names")
    p.add_argument("--size", type=int, default=256, help="input side in pixels (default: 256)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--images", type=int, default=32, help="synthetic training images per epoch (default: 32)")
    p.add_argument("--epochs", type=int, default=2, help="training epochs measured (default: 2)")
    p.add_argument("--encoder", help="encoder for encoder-based architectures (default: the first installed, by name)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision and channels_last (default: on for a GPU)")
    p.add_argument("--output", help="also write the table as CSV here")

    p = sub.add_parser("floor", parents=[common], help="each decoding's error floor on each dataset at the input size")
    p.add_argument("--grid", default="smoke", help="named grid or FILE.toml: its datasets, codecs and input size")
    p.add_argument("-d", "--dataset", action="append", default=[], help="glob filter on dataset names")
    p.add_argument("-c", "--codec", action="append", default=[], help="glob filter on codec names or labels")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a protocol setting, "
                   "e.g. input_size=192")
    p.add_argument("--splits", help=argparse.SUPPRESS)
    p = sub.add_parser("fit", parents=[common], help="keep a leaderboard's method as a model for new images")
    p.add_argument("run", help="run name or folder")
    p.add_argument("method", help="the method's label as the leaderboard shows it")
    p.add_argument("-d", "--dataset", help="the dataset's label, when the method ran on several")
    p.add_argument("--out", help="model folder to create (default: <method>-model)")
    p.add_argument("--from-folds", action="store_true",
                   help="package the k fold models as an ensemble instead of training on all images")

    p = sub.add_parser("predict", parents=[common], help="landmark new images with a model folder, for proofreading")
    p.add_argument("model", help="a model folder made by benchsuite fit")
    p.add_argument("images", nargs="+", help="image files or folders (an annotated folder also gets its errors)")
    p.add_argument("--to", required=True, help="tps, dlc, labelme, coco or csv: the format your annotation tool opens")
    p.add_argument("--out", help="folder to write the files into (default: beside the images, where tpsDig and "
                   "LabelMe look; for dlc a project folder ./predictions with the frames copied in)")
    p.add_argument("--overwrite", action="store_true", help="replace landmark files of the same name in --out")

    p = sub.add_parser("splits", parents=[common], help="the folds a run would use, as CSV (dataset, image, fold, part)")
    p.add_argument("dataset", metavar="DATASET|PATH", help="a registered dataset name or a folder of your own")
    p.add_argument("--folds", type=int, help="number of folds (default: the protocol's)")
    p.add_argument("--protocol", default="kumar2022", help="protocol preset giving folds, seed and validation share")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a protocol setting")
    p.add_argument("--splits", metavar="FILE.csv", help="check a split file against the dataset and print it in full")

    p = sub.add_parser("status", parents=[common], help="complete, failed, running and missing cells of a run")
    p.add_argument("run", help="run name or folder")

    p = sub.add_parser("leaderboard", parents=[common], help="the papers' tables: mean ± std over folds")
    p.add_argument("run", help="run name or folder")
    p.add_argument("--include-stale", action="store_true",
                   help="also report completed cells of an earlier grid of the run (labelled stale)")
    p.add_argument("--table", default="summary", help="summary, heatmap, regression, baseline, hits, per-landmark, "
                   "correlation or ranking (default: summary)")
    p.add_argument("--format", choices=formats, help="plain (an aligned table), md or markdown, latex, csv, html "
                   "(default: plain at a terminal, md when piped or redirected)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of the † markers (default: 0.05)")
    p.add_argument("--dagger", default="wilcoxon", choices=("wilcoxon", "nadeau-bengio"),
                   help="the test behind † (not significantly worse than the best): per-image Wilcoxon on these "
                        "trained models, or the Nadeau-Bengio corrected t-test on fold scores, which accounts for "
                        "training variability (default: wilcoxon)")
    p.add_argument("-m", "--method", help="glob filter on method labels")
    p.add_argument("-d", "--dataset", help="glob filter on dataset labels")
    p.add_argument("--candidates", action="store_true",
                   help="with a nested selection, show every candidate's own test scores instead of the selected one")
    p.add_argument("--plot", nargs="?", const="", metavar="PNG",
                   help="per-landmark: also draw a bar chart (default: RUN/plots/per-landmark.png)")

    p = sub.add_parser("stats", parents=[common], help="significance tests between methods, CD diagrams")
    p.add_argument("run", help="run name or folder")
    p.add_argument("--include-stale", action="store_true",
                   help="also report completed cells of an earlier grid of the run (labelled stale)")
    p.add_argument("--metric", help="per-image metric to test (default: the headline metric, mean radial error)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    p.add_argument("--posthoc", default="nemenyi", choices=("nemenyi", "conover"), help="post-hoc after Friedman")
    p.add_argument("--rope", type=float, default=0.5,
                   help="region of practical equivalence of the Bayesian test across datasets, in network-input "
                        "pixels (error / δ) for errors in pixels, else in the metric's units (default: 0.5, half an "
                        "input pixel)")
    p.add_argument("--out", help="folder for the CD diagrams (default: RUN/stats)")

    p = sub.add_parser("compare", parents=[common], help="two leaderboards side by side; a regression gate")
    p.add_argument("run_a", metavar="A", help="run name or folder, or a published leaderboard folder")
    p.add_argument("run_b", metavar="B", help="run name or folder, or a published leaderboard folder")
    p.add_argument("--include-stale", action="store_true",
                   help="also report completed cells of an earlier grid of the run (labelled stale)")
    p.add_argument("--metric", help="metric for two runs (default: the headline metric, mean radial error)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    p.add_argument("--fail-worse", type=float, metavar="PIXELS",
                   help="exit 1 when a method of B is significantly worse than in A by more than PIXELS")
    p.add_argument("--format", choices=formats, help="plain (an aligned table), md or markdown, latex, csv, html "
                   "(default: plain at a terminal, md when piped or redirected)")

    p = sub.add_parser("report", parents=[common], help="one self-contained HTML page: tables, tests, charts, "
                       "predictions")
    p.add_argument("run", help="run name or folder")
    p.add_argument("--out", help="the HTML file (default: RUN/report.html)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    p.add_argument("--rope", type=float, default=0.5,
                   help="region of practical equivalence for the Bayesian test, metric units (default: 0.5)")
    p.add_argument("--figures", metavar="DIR", help="also write the prediction overlays as PNG files under DIR")

    from benchsuite.report.export import export_columns

    p = sub.add_parser("export", parents=[common], help="every prediction of a run as one tidy table",
                       description=export_columns(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run name or folder")
    p.add_argument("--to", default="parquet", choices=("parquet", "csv"), help="file format (default: parquet)")
    p.add_argument("--out", help="the file (default: RUN/export/predictions.parquet or .csv)")
    datasets_cli.add_parser(sub, common)

    p = sub.add_parser("new-plugin", help="write a plugin package to start from: a working example, its "
                       "conformance test, README, CI workflow")
    p.add_argument("kind", metavar="KIND", choices=[k[:-1] for k in KINDS] + list(KINDS),
                   help=f"one of {', '.join(k[:-1] for k in KINDS)}")
    p.add_argument("name", metavar="NAME", help="the plugin's name: lower-case words joined by '-', e.g. my-net")
    p.add_argument("--out", metavar="DIR", help="the package folder to create (default: ./benchsuite-NAME); "
                   "it must not exist")
    return parser


def cmd_datasets(args) -> int:
    return datasets_cli.command(args, _registry(args))


COMMANDS = {"fit": cmd_fit, "predict": cmd_predict, "splits": cmd_splits, "plugins": cmd_plugins, "list": cmd_list,
            "run": cmd_run, "status": cmd_status, "bench": cmd_bench, "floor": cmd_floor, "leaderboard": cmd_leaderboard,
            "stats": cmd_stats, "compare": cmd_compare, "report": cmd_report, "export": cmd_export,
            "datasets": cmd_datasets, "new-plugin": cmd_new_plugin}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # here, so that a reader that has gone is noticed below rather than at exit
        return code
    except BrokenPipeError:  # `benchsuite status RUN | head`: the reader has what it wanted; stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        except (OSError, ValueError):
            pass
        return 0
    except PluginError as exc:
        print(f"benchsuite: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a full disk, a read-only or locked-down folder: one line, no traceback
        message = storage_message(exc)
        if message is None:
            raise
        print(f"benchsuite: error: {one_line(message)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("benchsuite: interrupted; completed cells are kept, re-run to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
