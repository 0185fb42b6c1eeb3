"""``benchsuite report RUN``: a whole run as one self-contained HTML page, for a lab's supplement.

Inline CSS, every figure an inline base64 PNG, no script, no external URL:
the file opens offline and can be mailed or archived as it is. Everything is
computed from the run's stored cells (and the dataset plugins, for the
images behind the overlays); a partial run gives a partial page that says
what is missing, never an error.
"""
from __future__ import annotations

import base64
import datetime
import html
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from benchsuite.api import PluginError
from benchsuite.files import check_file, check_folder, write_text_atomic
from benchsuite.report import overlays, plots, significance, tables
from benchsuite.report import training as trained
from benchsuite.report.flags import flags_of
from benchsuite.report.render import Table, mean_std, number
from benchsuite.report.scores import fold_scores, image_scores, load_metric
from benchsuite.run.results import Run
from benchsuite.run.store import asked_cells

NUMBER = re.compile(r"^[−+-]?(\d|\.\d)|^—$")  # text aligned right: numbers, and the dash for "none"
LONG_TEXT = 28  # table cells with longer texts (long method labels, errors) may wrap; shorter ones never do
PAPER_TABLES = [name for name in tables.TABLES if name not in ("summary", "training")]  # training: its section


@dataclass
class Section:
    id: str
    title: str
    body: str


# --- HTML pieces -----------------------------------------------------------------------------------------------


def esc(text) -> str:
    return html.escape(str(text))


def image(png: bytes, alt: str) -> str:
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="{esc(alt)}">'


def figure(png: bytes, caption: str, css: str = "") -> str:
    return (f'<figure{f" class={chr(34)}{css}{chr(34)}" if css else ""}>{image(png, caption)}'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def paragraphs(lines: list[str], css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return "".join(f"<p{attribute}>{esc(line)}</p>" for line in lines)


def _aligned(texts: list[str]) -> bool:
    return bool(texts) and all(NUMBER.match(t) for t in texts if t)


def grid(headers: list[str], rows: list[list[str]], title: str = "", cells_html: bool = False) -> str:
    """A styled table under its title; columns whose every cell is a number are right-aligned, long texts wrap."""
    numeric = [_aligned([_text(row[i]) for row in rows if i < len(row)]) for i in range(len(headers))]
    head = "".join(f'<th{_cell_class(numeric[i], h)} scope="col">{esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td{_cell_class(numeric[i], c)}>{_keep_together(c if cells_html else esc(c))}"
                                    "</td>" for i, c in enumerate(row)) + "</tr>" for row in rows)
    title = f'<p class="table-title">{esc(title)}</p>' if title else ""
    return f'{title}<div class="table-wrap"><table class="data"><thead><tr>{head}</tr></thead>' \
           f"<tbody>{body}</tbody></table></div>"


def _keep_together(cell: str) -> str:
    """``mean ± std`` and ``(2/3 folds)`` never split over two lines (a line may break between them)."""
    return re.sub(r"\((\d+/\d+) folds\)", "(\\1\u00a0folds)", cell.replace(" ± ", "\u00a0±\u00a0"))


def _cell_class(numeric: bool, cell: str) -> str:
    classes = (["num"] if numeric else []) + (["long"] if len(_text(cell)) > LONG_TEXT else [])
    return f' class="{" ".join(classes)}"' if len(classes) > 1 else (f" class={classes[0]}" if classes else "")


def _text(cell: str) -> str:
    return re.sub(r"<[^>]+>", "", cell).replace("&dagger;", "†")


def paper_table(table: Table, shown_notes: set[str] | None = None) -> str:
    """A :class:`Table` with its emphasis: bold for the best, † for not significantly worse, the flags' marks
    (‡ § ¶ ‖, explained in the notes); below, its notes
    (those not in ``shown_notes``, which collects them: a page explains a convention once)."""
    rows = [[(f"<b>{esc(e.text)}</b>" if e.bold and e.text else esc(e.text)) + ("&dagger;" if e.dagger else "")
             + esc(e.flags) for e in row] for row in table.rows]
    notes = [n for n in table.notes if shown_notes is None or n not in shown_notes]
    if shown_notes is not None:
        shown_notes.update(notes)
    return grid(table.headers, rows, table.title, cells_html=True) + paragraphs(notes, "note")


# --- the sections ----------------------------------------------------------------------------------------------


class Report:
    """Everything the page needs from one run, computed once."""

    def __init__(self, folder: Path, registry, alpha: float = 0.05, rope: float = 0.5):
        self.folder = Path(folder)
        self.run = Run(folder, registry)
        self.alpha, self.rope = alpha, rope
        self.records = list(self.run.store.records())
        self.failed = [r for r in self.records if r.get("status") != "ok"]
        manifest = self.run.store.manifest()
        asked = asked_cells(manifest) if manifest else []  # the cells a filtered run left out are not missing
        self.pending = sorted(set(asked) - {r.get("id") for r in self.records})
        self.datasets = overlays.Datasets(self.run)
        self.metric = load_metric(registry) if self.run.cells else None
        self.shown_notes: set[str] = set()

    @property
    def unit(self) -> str:
        return self.metric.unit if self.metric else "px"

    def sections(self) -> list[Section]:
        builders = [self.leaderboard, self.training, self.paper_tables, self.statistics, self.per_landmark, self.distributions,
                    self.predictions, self.human_reference, self.status, self.splits, self.environment]
        return [s for s in (build() for build in builders) if s is not None]

    def overview(self) -> str:
        run = self.run
        methods = run.methods
        facts = [f"{len(run.datasets)} dataset{'s' * (len(run.datasets) != 1)}",
                 f"{methods['method'].nunique()} method{'s' * (methods['method'].nunique() != 1)}",
                 f"{len(run.cells)} completed cell{'s' * (len(run.cells) != 1)}"]
        if self.failed:
            facts.append(f"{len(self.failed)} failed")
        lines = [f"Run {run.name}: " + ", ".join(facts) + "."]
        if self.metric:
            lines.append(f"Scores: {self.metric.description}. A fold's score is the mean over its test images; "
                         "a method's is the mean ± sample standard deviation over folds.")
        warnings = []
        if not run.cells:
            warnings.append("No cell of this run has completed yet: there is nothing to score.")
        incomplete = methods[~methods["complete"]] if len(methods) else methods
        gaps = [text for count, text in ((len(self.failed), f"{len(self.failed)} cell(s) failed"),
                                         (len(self.pending), f"{len(self.pending)} cell(s) have no result yet"),
                                         (len(incomplete), f"{len(incomplete)} dataset × method(s) lack folds"))
                if count]
        if gaps:
            warnings.append(f"This run is partial: {significance.join_names(gaps)}; incomplete methods are shown but "
                            "never bolded, ranked or tested (see Run status).")
        return paragraphs(lines, "lead") + paragraphs(warnings, "warning")

    def leaderboard(self) -> Section | None:
        if not self.run.cells:
            return None
        return Section("leaderboard", "Leaderboard", paper_table(self.summary, self.shown_notes))

    @cached_property
    def summary(self) -> Table:
        return tables.summary(self.run, alpha=self.alpha)

    def training(self) -> Section | None:
        """How each method was trained and its learning curves: whether a network had a fair chance."""
        if not self.run.cells:
            return None
        parts = [paper_table(tables.training(self.run), self.shown_notes)]
        curves = trained.curves(self.run)
        fits = trained.fits(self.run, self.folds)
        if curves["val_mre"].notna().any() or len(fits):
            budgets = {}
            for cell in self.run.cells:
                minutes = (cell.config.get("protocol") or {}).get("max_minutes")
                if minutes and trained.trains_epochs(cell.record):
                    budgets[cell.dataset] = max(budgets.get(cell.dataset, 0.0), float(minutes))
            chart = plots.learning_curve_figure(curves, fits, self.unit, methods=self.method_colours, budgets=budgets)
            parts.append(figure(plots.png(chart), "Learning curves: validation error against training minutes, one "
                                "line per fold of each network (cells recorded without a curve have no line); "
                                "methods without epochs as diamonds at their fit time and test error, one per fold "
                                "(they hold no validation images out); dashed: the time budget. A curve still "
                                "falling at its end says more time would help.", "chart learning-curves"))
        return Section("training", "Training", "".join(parts))

    @cached_property
    def folds(self):
        return fold_scores(self.run, self.metric)

    @cached_property
    def method_colours(self) -> list[str]:
        """Every method of the run in one order: one colour per method on every chart."""
        return sorted({c.method for c in self.run.cells})

    def paper_tables(self) -> Section | None:
        if not self.run.cells:
            return None
        parts = []
        for name in PAPER_TABLES:
            if name == "ranking" and len(self.run.datasets) < 2:
                continue
            try:
                table = tables.build(self.run, name, self.alpha)
            except PluginError:  # no installed metric fills it
                continue
            if name in tables.COMPARISONS and table.rows and table.data["method"].nunique() < 2:
                continue  # one method: the leaderboard already says all this table would
            if table.rows:
                body = paper_table(table, self.shown_notes)
                parts.append(f'<section class="table" id="table-{esc(name)}">{body}</section>')
        if not parts:
            return None
        return Section("tables", "Tables", "".join(parts))

    def statistics(self) -> Section | None:
        if not self.run.cells or "image" not in self.metric.scores:
            return None
        analysis = self.analysis
        diagrams = {key: plots.png(fig) for key, fig in significance.cd_figures(analysis).items()}
        parts = [paragraphs([f"α = {self.alpha:g}. Within a dataset every complete method predicted every image "
                             "once (out of fold), so per-image errors are paired across methods; only complete "
                             "methods are tested."], "note")]
        for tests in analysis.within:
            parts.append(f"<h3>{esc(tests.dataset)}</h3>")
            parts.append(paragraphs([" ".join(significance.verdict(tests, self.alpha))], "verdict"))
            if tests.dataset in diagrams:
                parts.append(figure(diagrams[tests.dataset], f"Critical difference diagram, {tests.dataset}: methods "
                                    "joined by a bar do not differ significantly (Nemenyi); the CD bar is the "
                                    "smallest difference of average ranks that is significant.", "chart"))
            parts.append(self._test_details(tests, analysis))
        across = analysis.across
        parts.append("<h3>Across datasets</h3>")
        parts.append(paragraphs([" ".join(significance.across_verdict(across, self.alpha, self.rope, across.unit))],
                                "verdict"))
        if "across" in diagrams:
            parts.append(figure(diagrams["across"], "Critical difference diagram across datasets (datasets as blocks).",
                                "chart"))
        details = []
        if across.friedman is not None:
            details += [paragraphs([significance.QUESTIONS["across"]], "question"),
                        paragraphs([significance.friedman_line(across.friedman, self.alpha),
                                    significance.ranks_line(across.friedman), f"CD = {across.cd:.3f} ranks"])]
        if across.bayes is not None and len(across.bayes):
            details += [paragraphs([significance.QUESTIONS["bayes"], f"ROPE = ±{self.rope:g} {across.unit}"],
                                   "question"), grid(*significance.bayes_rows(across))]
        if details:
            parts.append(f"<details><summary>Test details: across datasets</summary>{''.join(details)}</details>")
        return Section("statistics", "Which differences are significant", "".join(parts))

    @cached_property
    def analysis(self) -> significance.Analysis:
        return significance.analyse(self.run, self.metric, self.alpha, rope=self.rope)

    def conclusion(self) -> list[str]:
        """One plain sentence per dataset, for the top of the page: the best method with its error, what it is
        significantly better than (the tests of the statistics section), and which network its budget stopped
        while it still improved."""
        if not self.run.cells or "image" not in self.metric.scores:
            return []
        data = self.summary.data
        data = data[~data["reference"].astype(bool)] if "reference" in data else data
        starved = flags_of(self.run).starved
        sentences = []
        for tests in self.analysis.within:
            rows = data[data["dataset"] == tests.dataset]
            best = rows[rows["best"].astype(bool)]
            if best.empty:
                text = f"On {tests.dataset}, no method has all its folds yet: nothing can be concluded"
            else:
                top = best.iloc[0]
                text = f"On {tests.dataset}, {top['method']} is best: {mean_std(top['mean'], top['std'], 1)} {self.unit}"
                scales = [f"{mean_std(top[mean], top[tables.scale_column(m, 'std')], m.decimals)} {m.unit}"
                          for m in tables.table_metrics(self.run, "summary")
                          if (mean := tables.scale_column(m, "mean")) in top and top[mean] == top[mean]]
                text += f" ({'; '.join(scales)})" if scales else ""
                if tests.vs_best is not None:
                    worse = tests.vs_best[~tests.vs_best["not_worse"]]["method"].tolist()
                    kept = tests.vs_best[tests.vs_best["not_worse"]]["method"].tolist()
                    if worse:
                        text += f", significantly better than {significance.join_names(worse)}"
                    if kept:
                        text += (f"{' but' if worse else ','} not significantly better than "
                                 f"{significance.join_names(kept)}")
                elif tests.notes:
                    text += f" (not tested: {tests.notes[0]})"
            hungry = [f"{method} was still improving when its " + (f"{minutes:.3g}-minute budget" if minutes else
                                                                     "time budget") + " ended"
                      + (f" (in {count} of its {folds} folds)" if count < folds else "")
                      for (dataset, method), (count, folds, minutes) in sorted(starved.items())
                      if dataset == tests.dataset]
            sentences.append(text + "".join(f"; {h}" for h in hungry) + ".")
        return sentences

    def _test_details(self, tests: significance.DatasetTests, analysis: significance.Analysis) -> str:
        q = significance.QUESTIONS
        parts = [paragraphs([f"{len(tests.methods)} complete methods, {tests.images} paired images"
                             + (f" ({tests.dropped_images} dropped: not predicted by every method)"
                                if tests.dropped_images else "")] + tests.notes)]
        if tests.friedman is not None:
            parts += [paragraphs([q["friedman"]], "question"),
                      paragraphs([significance.friedman_line(tests.friedman, self.alpha)]),
                      paragraphs([q["posthoc"].format(name=analysis.posthoc.capitalize())], "question"),
                      paragraphs([significance.ranks_line(tests.friedman),
                                  f"Nemenyi critical difference CD = {tests.cd:.3f} ranks"]),
                      grid(*significance.pvalue_rows(tests.posthoc))]
        if tests.pairs is not None:
            parts += [paragraphs([q["wilcoxon"], q["nadeau"]], "question"),
                      grid(*significance.pairs_rows(tests.pairs, self.unit)),
                      paragraphs([q["vs_best"]], "question"), paragraphs([significance.vs_best_line(tests)])]
        return f"<details><summary>Test details: {esc(tests.dataset)}</summary>{''.join(parts)}</details>"

    def per_landmark(self) -> Section | None:
        if not self.run.cells or "landmark" not in self.metric.scores:
            return None
        summary, metric = tables.landmark_summary(self.run)
        methods = sorted(summary["method"].unique())  # one colour per method on every chart
        parts = [paragraphs([f"Mean error of each landmark over a fold's test images, mean ± std over folds (error "
                             f"bars), in {metric.unit}; a log scale where the errors span a decade or more."],
                            "note")]
        for dataset in self.run.datasets:
            rows = summary[summary["dataset"] == dataset]
            parts.append(figure(plots.png(plots.per_landmark_figure(rows, metric.unit, methods=methods)),
                                f"Error per landmark, {dataset}", "chart"))
        return Section("per-landmark", "Error per landmark", "".join(parts))

    def distributions(self) -> Section | None:
        if not self.run.cells or "image" not in self.metric.scores:
            return None
        images = image_scores(self.run, self.metric)
        parts = [paragraphs(["Per-image errors over all out-of-fold test images: box from the first to the third "
                             "quartile, line at the median, whiskers to 1.5 × IQR, dots beyond, ◇ the mean; the "
                             "dashed line is the human reference where the dataset knows it."], "note")]
        for dataset in self.run.datasets:
            reference = self.datasets.human_error(dataset)
            chart = plots.error_distribution_figure(images[images["dataset"] == dataset], dataset, self.metric.unit,
                                                    reference)
            parts.append(figure(plots.png(chart), f"Distribution of per-image errors, {dataset}", "chart"))
        return Section("distributions", "Error distributions", "".join(parts))

    def predictions(self) -> Section | None:
        if not self.run.cells:
            return None
        parts = [paragraphs(["For each method: its best, median and worst test image by per-image mean radial "
                             "error (original pixels), with the ground truth (circle), the prediction (cross) and "
                             "the error between them; then, per landmark, every test image's prediction − truth "
                             "offset around the truth (y down as in the image; green ring: the median error, black "
                             "cross: the mean offset, a bias). Every panel of a dataset has the same axes, holding "
                             "98 % of its offsets; the rarer far misses are hollow dots on the frame's edge. The "
                             "best method comes first."], "note")]
        for dataset in self.overlay_figures:
            parts.append(f"<h3>{esc(dataset.dataset)}</h3>")
            if dataset.unavailable:
                parts.append(paragraphs([f"The images of {dataset.dataset} are not available here, so no prediction "
                                         f"is drawn on them: {dataset.unavailable}"], "warning"))
            for method in self._best_first(dataset):
                parts.append(f"<h4>{esc(method.method)}</h4>")
                if method.examples:
                    parts.append('<div class="examples">' + "".join(figure(f.png, f.caption) for f in method.examples)
                                 + "</div>")
                parts.append(paragraphs(method.problems, "warning"))
                parts.append('<div class="offsets">' + "".join(figure(f.png, f.caption, "offset")
                                                               for f in method.offsets) + "</div>")
        return Section("predictions", "Predictions on test images", "".join(parts))

    def _best_first(self, dataset: overlays.DatasetFigures) -> list[overlays.MethodFigures]:
        """A dataset's methods in the leaderboard's order: the winner's overlays first."""
        order = list(self.summary.data[self.summary.data["dataset"] == dataset.dataset]["method"])
        return sorted(dataset.methods, key=lambda m: order.index(m.method) if m.method in order else len(order))

    @cached_property
    def overlay_figures(self) -> list[overlays.DatasetFigures]:
        return overlays.run_figures(self.run, self.datasets)

    def human_reference(self) -> Section | None:
        if not self.run.cells:
            return None
        best = self.summary.data
        rows = []
        for dataset in self.run.datasets:
            reference = self.datasets.human_error(dataset)
            if reference is None:
                continue
            top = best[(best["dataset"] == dataset) & best["best"]]
            score = top["mean"].iloc[0] if len(top) else float("nan")
            rows.append([dataset, f"{reference:.2f}", top["method"].iloc[0] if len(top) else "—",
                         number(score), number(score / reference)])
        if not rows:  # no dataset knows it here: nothing to show
            return None
        body = grid(["dataset", f"human reference ({self.unit})", "best method", f"its MRE ({self.unit})",
                         "ratio to human"], rows) + paragraphs(
                ["human reference: mean radial error between two annotators of the same images"], "note")
        return Section("human", "Human reference", body)

    def status(self) -> Section | None:
        methods = self.run.methods
        incomplete = methods[~methods["complete"]] if len(methods) else methods
        if not self.failed and not len(incomplete) and not self.pending:
            return Section("status", "Run status", paragraphs(["Every cell of this run completed; every method has "
                                                               "all its folds."]))
        parts = []
        if self.pending:
            parts.append(paragraphs([f"{len(self.pending)} cell(s) of the run's grid have no result yet (not "
                                     "started, or still running); benchsuite status lists them."]))
        if len(incomplete):
            parts.append(grid(["dataset", "method", "folds done"],
                              [[r.dataset, r.method, f"{r.folds_done}/{r.folds}"] for r in incomplete.itertuples()],
                              "Incomplete methods"))
        if self.failed:
            rows = [[str(r.get("dataset", "?")), str(r.get("method", "?")), str(r.get("fold", "?")), _first_line(r)]
                    for r in self.failed]
            parts.append(grid(["dataset", "method", "fold", "error"], rows, "Failed cells"))
        return Section("status", "Run status", "".join(parts))

    def splits(self) -> Section | None:
        counts: dict[tuple[str, int], Counter] = {}
        for cell in self.run.cells:
            split = cell.record.get("split") or {}
            key = tuple(split.get(k) for k in ("train", "val", "test"))
            counts.setdefault((cell.dataset, cell.fold), Counter())[key] += 1
        if not counts:
            return None
        rows, differ = [], False
        for (dataset, fold), variants in sorted(counts.items()):
            differ |= len(variants) > 1
            for (train, val, test), cells in variants.items():
                rows.append([dataset, str(fold), *("—" if v is None else str(v) for v in (train, val, test)),
                             str(cells)])
        notes = ["images in each part of a fold as its cells recorded them (cells: how many recorded that split); "
                 "validation images come from the training part only"]
        if differ:
            notes.append("some folds list more than one split: their methods did not see the same images")
        return Section("splits", "Data splits", grid(["dataset", "fold", "train", "validation", "test", "cells"],
                                                     rows) + paragraphs(notes, "note"))

    def environment(self) -> Section | None:
        values: dict[str, Counter] = {}
        for record in self.records:
            for key, value in environment_facts(record).items():
                values.setdefault(key, Counter())[value] += 1
        if not values:
            return None
        rows = [[key, "; ".join(f"{value} ({n} cells)" if len(counter) > 1 else value
                                for value, n in counter.most_common())] for key, counter in values.items()]
        return Section("environment", "Environment", grid(["recorded", "value"], rows) + paragraphs(
            ["as recorded by each cell when it ran; several values are listed with their number of cells"], "note"))


def _first_line(record: dict) -> str:
    """A failed cell's error, first line (tracebacks stay in cell.json)."""
    lines = str(record.get("error") or record.get("status") or "").strip().splitlines()
    return lines[0][:300] if lines else ""


def environment_facts(record: dict) -> dict[str, str]:
    """What a cell was computed with, flattened to labelled text."""
    facts = {}
    if record.get("git_revision"):
        facts["git revision"] = str(record["git_revision"])
    if record.get("python"):
        facts["Python"] = str(record["python"])
    for name, version in (record.get("packages") or {}).items():
        if version:
            facts[name] = str(version)
    hardware = record.get("hardware") or {}
    for key, label in (("platform", "platform"), ("cpu", "CPU"), ("cpu_count", "CPU cores")):
        if hardware.get(key):
            facts[label] = str(hardware[key])
    if "gpus" in hardware:
        facts["GPUs"] = ", ".join(hardware["gpus"]) or "none"
    if record.get("device"):
        facts["training device"] = str(record["device"])
    return facts


# --- the page --------------------------------------------------------------------------------------------------


def build(report: Report) -> str:
    """The report page, as HTML text."""
    sections = report.sections()
    toc = "".join(f'<li><a href="#{s.id}">{esc(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{s.id}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections)
    generated = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"Landmark detection benchmark: {report.run.name}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header><h1>{esc(title)}</h1><p class="subtitle">benchsuite report, generated {generated}</p></header>
{paragraphs(report.conclusion(), "conclusion")}
{report.overview()}
<nav class="toc" aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav>
{body}
</main>
</body>
</html>
"""


def write(folder: Path, registry, out: Path, alpha: float = 0.05, rope: float = 0.5,
          figures: Path | None = None) -> tuple[Path, list[Path]]:
    """Write a run's report page atomically to ``out``; with ``figures``, its prediction overlays as PNG files
    there too. The page's path and the figures'."""
    out = check_file(out, "report", "report.html")  # before the report is computed, not after
    if figures:
        check_folder(figures, "--figures")
    report = Report(folder, registry, alpha, rope)
    text = build(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, text)
    written = overlays.write_figures(report.overlay_figures, Path(figures)) if figures else []
    return out, written


CSS = """
:root { --ink: #1c2230; --muted: #5a6374; --rule: #d9dee7; --accent: #24507a; --zebra: #f5f7fa; --note: #fff6e6; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 15px/1.55 "Source Sans 3", "Segoe UI", "Helvetica Neue", Helvetica, Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1140px; margin: 0 auto; padding: 36px 44px 90px; }
h1 { font-size: 28px; line-height: 1.2; margin: 0 0 4px; font-weight: 650; letter-spacing: -0.01em; }
h2 { font-size: 21px; margin: 46px 0 14px; padding-bottom: 5px; border-bottom: 2px solid var(--accent);
  font-weight: 620; }
h3 { font-size: 17px; margin: 30px 0 8px; font-weight: 620; }
h4 { font-size: 15px; margin: 22px 0 6px; color: var(--accent); font-weight: 600; }
.subtitle { color: var(--muted); margin: 0 0 18px; }
p { margin: 6px 0; }
p.lead { font-size: 16px; }
p.conclusion { font-size: 17px; font-weight: 600; background: #eef4fa; border-left: 5px solid var(--accent);
  padding: 10px 16px; margin: 10px 0; }
p.note { font-size: 12.5px; color: var(--muted); margin: 3px 0; }
p.question { font-weight: 600; margin-top: 12px; }
p.verdict { background: #eef4fa; border-left: 4px solid var(--accent); padding: 8px 14px; margin: 8px 0 12px; }
p.warning { background: var(--note); border-left: 4px solid #d98a00; padding: 6px 12px; }
nav.toc { background: var(--zebra); border: 1px solid var(--rule); border-radius: 6px; padding: 4px 22px 10px;
  margin: 22px 0 8px; }
nav.toc h2 { font-size: 15px; border: 0; margin: 10px 0 2px; padding: 0; }
nav.toc ol { margin: 4px 0; padding-left: 22px; columns: 2; column-gap: 40px; }
nav.toc a { color: var(--accent); text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
.table-wrap { overflow-x: auto; margin: 8px 0 4px; }
table.data { border-collapse: collapse; font-size: 13.5px; font-variant-numeric: tabular-nums; }
table.data th, table.data td { padding: 4px 11px; border-bottom: 1px solid var(--rule); vertical-align: top;
  white-space: nowrap; }
table.data .long { white-space: normal; overflow-wrap: anywhere; min-width: 9em; max-width: 24em; }
p.table-title { font-weight: 620; margin: 0 0 4px; }
table.data thead th { border-top: 2px solid var(--ink); border-bottom: 1.5px solid var(--ink); text-align: left;
  font-weight: 620; }
table.data tbody tr:last-child td { border-bottom: 2px solid var(--ink); }
table.data tbody tr:nth-child(even) { background: var(--zebra); }
table.data .num { text-align: right; }
table.data td.num { white-space: normal; min-width: 5.5em; }
table.data th.long { white-space: normal; }
section.table { margin: 18px 0 26px; }
details { border: 1px solid var(--rule); border-radius: 6px; padding: 6px 14px; margin: 8px 0 18px; }
details[open] { padding-bottom: 12px; }
summary { cursor: pointer; color: var(--accent); font-weight: 600; }
figure { margin: 10px 0 16px; }
figure.chart img { max-width: 100%; }
figcaption { font-size: 12.5px; color: var(--muted); margin-top: 3px; }
img { max-width: 100%; height: auto; }
.examples { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 16px; align-items: end; }
.examples figure { margin: 4px 0; }
.offsets { display: flex; flex-wrap: wrap; gap: 10px; }
figure.offset { width: 236px; margin: 4px 0; }
@media print { main { padding: 0; max-width: none; } details { border: 0; } h2 { break-after: avoid; }
  figure, table { break-inside: avoid; } }
"""
