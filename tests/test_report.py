"""``benchsuite report``: one self-contained page, right on partial runs, and what a browser shows of it."""
from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from fake_runs import identified, make_run, make_synthetic_run, trained
from PIL import Image

from benchsuite.cli import main
from benchsuite.report import overlays, page, plots, training
from benchsuite.report.scores import fold_scores, load_metric
from benchsuite.run.results import Run
from benchsuite.run.store import RunStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--hide-scrollbars", "--mute-audio"]


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of each table cell."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(text: str) -> Elements:
    elements = Elements()
    elements.feed(text)
    return elements


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, registry):
    """Two synthetic datasets whose images can be drawn, an incomplete method, a failed cell, and a dataset
    whose images are not on this machine."""
    root = tmp_path_factory.mktemp("runs") / "small"
    store = make_synthetic_run(root, registry, {"unet+gaussian": 1.0, "fcn8+gaussian": 1.02,
                                                "unet-regression+regression": 4.0, "mean-shape": 12.0},
                               folds=3, params={"n_images": 18}, skip={("unet-regression+regression", 2)})
    make_synthetic_run(root, registry, {"unet+gaussian": 1.5, "fcn8+gaussian": 3.0, "mean-shape": 9.0}, folds=3,
                       params={"n_images": 15, "seed": 4}, label="synthetic-b", seed=1)
    make_run(root, {"elsewhere": {"unet+gaussian": 2.0, "mean-shape": 6.0}}, folds=2, images_per_fold=4, seed=2)
    store.write(*identified({"status": "failed", "dataset": "synthetic", "method": "hrnet+gaussian", "fold": 0,
                             "error": "OutOfMemoryError: CUDA out of memory.\nTraceback ..."}))
    store.adopt_grid("small", [r["id"] for r in store.records()] + ["hrnet-1", "hrnet-2"])  # 2 not started
    return root


@pytest.fixture(scope="module")
def report_file(small_run, registry):
    out, _ = page.write(small_run, registry, small_run / "report.html")
    return out


def test_the_page_is_self_contained_no_script_no_url(report_file):
    text = report_file.read_text()
    elements = parse(text)
    assert not elements.all("script") and not elements.all("link") and not elements.all("iframe")
    sources = [attrs["src"] for attrs in elements.all("img")]
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(attrs["href"].startswith("#") for attrs in elements.all("a"))
    assert not re.search(r"https?://|url\(|@import", text)
    for source in sources:  # every inline image is a real PNG
        Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).verify()


def test_the_contents_link_to_every_section(report_file):
    elements = parse(report_file.read_text())
    targets = [a["href"][1:] for a in elements.all("a")]
    ids = [attrs["id"] for _, attrs in elements.tags if "id" in attrs]
    assert targets == [i for i in ids if not i.startswith("table-")]
    assert targets[:4] == ["leaderboard", "training", "tables", "statistics"]
    assert {"per-landmark", "distributions", "predictions", "status", "splits", "environment"} <= set(targets)
    assert "human" not in targets  # no dataset of this run knows its inter-annotator error: no empty section


def test_leaderboard_and_paper_tables_keep_bold_dagger_and_right_aligned_numbers(report_file):
    text = report_file.read_text()
    leaderboard = text.split('<section id="leaderboard">')[1].split("</section>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", leaderboard)
    best = next(r for r in rows if "<td>synthetic</td><td>unet+gaussian</td>" in r)
    assert re.search(r"<td class=num><b>\d+\.\d\d\xa0±\xa0\d+\.\d\d</b></td>", best)  # bold, right, one line
    close = next(r for r in rows if "<td>synthetic</td><td>fcn8+gaussian</td>" in r)
    assert "&dagger;" in close  # 2 % worse on the same images: not significantly worse than the best
    partial = next(r for r in rows if "unet-regression+regression" in r and "<td>synthetic</td>" in r)
    assert "2/3 incomplete" in partial and "<b>" not in partial
    for table in ("heatmap", "per-landmark", "ranking", "speed"):
        assert f'id="table-{table}"' in text
    # one regression method, one baseline: nothing to compare, the leaderboard says it all
    assert 'id="table-regression"' not in text and 'id="table-baseline"' not in text
    assert "Heatmap regression" in text and "fish Table" not in text  # synthetic images are not the fish paper's


def test_verdicts_come_first_in_plain_words_details_folded(report_file):
    text = report_file.read_text()
    statistics = text.split('<section id="statistics">')[1].split("</section>")[0]
    verdict = re.search(r'<p class="verdict">(On synthetic, .*?)</p>', statistics).group(1)
    assert verdict.startswith("On synthetic, unet+gaussian is significantly better than mean-shape")
    assert "fcn8+gaussian is not significantly worse than unet+gaussian" in verdict
    assert "Not tested (incomplete folds): unet-regression+regression." in verdict
    assert statistics.index('class="verdict"') < statistics.index("<details>")
    assert "<summary>Test details: synthetic</summary>" in statistics and "p Wilcoxon" in statistics
    assert "On elsewhere, nothing was tested" not in statistics  # two complete methods: tested
    # a diagram per dataset with 3 complete methods; none across: only 2 methods are complete on every dataset
    assert statistics.count('alt="Critical difference diagram') == 2


def test_predictions_are_drawn_where_images_exist_and_their_absence_is_said(report_file):
    text = report_file.read_text()
    predictions = text.split('<section id="predictions">')[1].split("</section>")[0]
    synthetic = predictions.split("<h3>synthetic</h3>")[1].split("<h3>")[0]
    assert synthetic.count('<div class="examples">') == 4 and synthetic.count("<figure>") == 12
    assert synthetic.count('<figure class="offset">') == 4 * 3
    elsewhere = predictions.split("<h3>elsewhere</h3>")[1].split("<h3>")[0]
    assert "The images of elsewhere are not available here" in elsewhere and "unknown dataset" in elsewhere
    assert '<div class="examples">' not in elsewhere and elsewhere.count('<figure class="offset">') == 2 * 3


def test_status_split_and_environment_of_a_partial_run(report_file):
    text = report_file.read_text()
    assert ('class="warning">This run is partial: 1 cell(s) failed, 2 cell(s) have no result yet and 1 dataset × '
            "method(s) lack folds;") in text
    status = text.split('<section id="status">')[1].split("</section>")[0]
    assert "OutOfMemoryError: CUDA out of memory." in status and "Traceback" not in status
    assert "2 cell(s) of the run&#x27;s grid have no result yet" in status
    assert "<td>unet-regression+regression</td><td class=num>2/3</td>" in status
    splits = text.split('<section id="splits">')[1].split("</section>")[0]
    # fake splits: 3/4 of the other folds train, 1/4 validate; 6 test images per fold of 18; 4 methods, 3 in fold 2
    assert "<td>synthetic</td><td class=num>0</td><td class=num>9</td><td class=num>3</td><td class=num>6</td>" \
           "<td class=num>4</td>" in splits
    assert "<td>training device</td><td>cpu</td>" in text  # one value for every cell: no count


def test_the_human_reference_is_shown_where_the_dataset_knows_it(small_run, registry, monkeypatch):
    monkeypatch.setattr(overlays.Datasets, "human_error",
                        lambda self, label: 2.0 if label == "synthetic" else None)
    human = page.Report(small_run, registry).human_reference().body
    row = re.search(r"<tr><td>synthetic</td><td class=num>2\.00</td><td>unet\+gaussian</td>"
                    r"<td class=num>(\d+\.\d\d)</td><td class=num>(\d+\.\d\d)</td></tr>", human)
    assert row and float(row.group(2)) == pytest.approx(float(row.group(1)) / 2, abs=0.01)
    assert "synthetic-b" not in human


def test_a_run_without_any_completed_cell_still_reports_its_failures(tmp_path, registry):
    store = RunStore(tmp_path / "broken")
    store.write(*identified({"status": "failed", "dataset": "d", "method": "m", "fold": 0,
                             "error": "ValueError: bad", "packages": {"torch": "2.14.1"}}))
    out, _ = page.write(store.root, registry, tmp_path / "broken.html")
    text = out.read_text()
    assert "No cell of this run has completed yet" in text and "ValueError: bad" in text
    assert re.search(r"<td>torch</td><td( class=num)?>2\.14\.1</td>", text) and 'id="leaderboard"' not in text


def test_the_command_writes_the_page_and_the_figures(tmp_path, registry, capsys):
    run = make_synthetic_run(tmp_path / "run", registry, {"unet+gaussian": 1.0, "mean-shape": 8.0})
    make_run(run.root, {"elsewhere": {"unet+gaussian": 2.0}}, folds=2, images_per_fold=3)
    out = tmp_path / "page" / "report.html"
    assert main(["report", str(run.root), "--out", str(out), "--figures", str(tmp_path / "figures")]) == 0
    printed = capsys.readouterr().out
    assert f"report written to {out}" in printed and out.read_text().startswith("<!DOCTYPE html>")
    figures = list((tmp_path / "figures").rglob("*.png"))
    # 3 examples and 3 landmark scatters per method with images; only the scatters where images are elsewhere
    assert len(figures) == 2 * (3 + 3) + 3 and f"{len(figures)} figures written" in printed
    assert not list(out.parent.glob(".*tmp"))  # written atomically: no temporary left


def test_an_unknown_run_is_a_one_line_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing-here"), "--results", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("benchsuite: error: ")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)")
def test_a_browser_renders_the_tables_images_and_a_non_blank_page(report_file, tmp_path):
    profile = tmp_path / "profile"
    url = report_file.resolve().as_uri()
    dom = subprocess.run([CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                         check=False, capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    elements = parse(dom.stdout)
    source = parse(report_file.read_text())
    assert len(elements.all("table")) == len(source.all("table")) >= 12
    assert len(elements.all("img")) == len(source.all("img")) >= 40
    assert "Leaderboard" in dom.stdout and "On synthetic, unet+gaussian is significantly better" in dom.stdout
    shot = tmp_path / "page.png"
    result = subprocess.run([CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                             "--window-size=1280,2000", url], check=False, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2000, 1280)
    assert pixels.std() > 10  # text and tables, not a blank page
    rows = pixels.std(axis=1) > 5
    assert rows[:300].any() and rows[1000:2000].any()  # content at the top (title) and further down (tables)


FALLING = np.linspace(40.0, 8.0, 20)  # still falling when the budget ended it
FLAT = np.r_[np.linspace(40.0, 5.0, 8), np.full(12, 5.0)]


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    """A lab's wings: dlib best, a U-Net its 1.6-minute budget stopped still improving (one fold recorded before
    learning curves), a network stopped by patience, the mean shape."""
    root = tmp_path_factory.mktemp("lab") / "wings"
    make_run(root, {"wings": {"dlib": 8.0, "unet+gaussian": 12.0, "fcn8+gaussian": 8.3, "mean-shape": 40.0}},
             folds=3, images_per_fold=10,
             records={("wings", "unet+gaussian"): [trained(FALLING, max_minutes=1.6, seconds_per_epoch=4.8),
                                                   trained(FALLING, max_minutes=1.6, seconds_per_epoch=4.8),
                                                   trained(FALLING, max_minutes=1.6, curve=False)],
                      ("wings", "fcn8+gaussian"): trained(FLAT, stopped_by="patience"),
                      ("wings", "dlib"): {"train_seconds": 3.2}, ("wings", "mean-shape"): {"train_seconds": 0.01}})
    return root


@pytest.fixture(scope="module")
def lab_page(lab_run, registry):
    out, _ = page.write(lab_run, registry, lab_run.parent / "wings.html")
    return out


def test_the_page_opens_with_its_conclusion_in_one_sentence(lab_page):
    text = lab_page.read_text()
    conclusion = re.search(r'<p class="conclusion">(.*?)</p>', text).group(1)
    assert re.fullmatch(r"On wings, dlib is best: \d+\.\d ± \d+\.\d px \(\d+\.\d\d ± \d+\.\d\d % of specimen "
                        r"size\), significantly better than fcn8\+gaussian, unet\+gaussian and mean-shape; "
                        r"unet\+gaussian was still improving when its 1\.6-minute budget ended\.", conclusion)
    assert text.index('class="conclusion"') < text.index('class="lead"') < text.index('class="toc"')


def test_the_training_section_tells_how_each_method_was_trained_and_draws_its_curves(lab_page):
    section = lab_page.read_text().split('<section id="training">')[1].split("</section>")[0]
    rows = {re.findall(r"<td>([^<]*)</td>", r)[1]: r for r in re.findall(r"<tr>(.*?)</tr>", section)[1:]}
    assert set(rows) == {"dlib", "fcn8+gaussian", "mean-shape§", "unet+gaussian‖"}  # §: far misses, off the image
    assert "<td>budget</td><td class=num>3/3</td>" in rows["unet+gaussian‖"]
    assert "<td>patience</td><td class=num>0/3</td>" in rows["fcn8+gaussian"]
    assert "0.05" in rows["dlib"] and ">20 / 8<" in rows["fcn8+gaussian"]
    assert section.count('<figure class="chart learning-curves">') == 1 and "Learning curves" in section


def test_learning_curves_draw_one_line_per_network_fold_and_one_point_per_fit(lab_run, registry):
    run = Run(lab_run, registry)
    curves = training.curves(run)
    assert sorted(set(zip(curves.method, curves.fold))) == [("fcn8+gaussian", f) for f in range(3)] + [
        ("unet+gaussian", 0), ("unet+gaussian", 1)]  # fold 2 was recorded before learning curves: no line
    fits = training.fits(run, fold_scores(run, load_metric(registry)))
    assert sorted(set(fits.method)) == ["dlib", "mean-shape"] and len(fits) == 6
    figure = plots.learning_curve_figure(curves, fits, budgets={"wings": 1.6})
    (ax,) = figure.axes
    assert len([line for line in ax.lines if len(line.get_xdata()) == 20]) == 5
    assert sum(len(c.get_offsets()) for c in ax.collections) == 6
    ends = sorted({round(float(max(line.get_xdata())), 6) for line in ax.lines if len(line.get_xdata()) == 20})
    assert ends == [20 * 4.8 / 60, 20 * 6.0 / 60]  # elapsed minutes, what the budget counts


def test_the_log_scale_box_plot_labels_its_ticks_in_plain_numbers():
    images = pd.DataFrame({"method": ["a"] * 50 + ["b"] * 50,
                           "value": np.r_[np.linspace(1.5, 6, 50), np.linspace(20, 90, 50)]})
    figure = plots.error_distribution_figure(images, "wings")
    figure.canvas.draw()
    ax = figure.axes[0]
    low, high = ax.get_xlim()
    labels = [t.get_text() for t in ax.get_xticklabels(minor=False) + ax.get_xticklabels(minor=True)
              if low <= t.get_position()[0] <= high and t.get_text()]
    assert ax.get_xscale() == "log" and len(labels) >= 3
    assert all(re.fullmatch(r"\d+(\.\d+)?", label) for label in labels), labels


def test_the_winners_overlays_come_first(report_file):
    predictions = report_file.read_text().split('<section id="predictions">')[1].split("</section>")[0]
    synthetic = predictions.split("<h3>synthetic</h3>")[1].split("<h3>")[0]
    assert re.findall(r"<h4>(.*?)</h4>", synthetic)[0] == "unet+gaussian"  # the leaderboard's best


def _dom(page_file, tmp_path) -> str:
    dom = subprocess.run([CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          page_file.resolve().as_uri()], check=False, capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)")
def test_a_browser_shows_the_conclusion_the_training_section_its_curves_and_the_starved_flag(lab_page, tmp_path):
    text = _dom(lab_page, tmp_path)
    elements = parse(text)
    assert [a for a in elements.all("p") if a.get("class") == "conclusion"]
    assert "On wings, dlib is best" in text and "was still improving when its 1.6-minute budget ended" in text
    assert {"training"} <= {a.get("id") for a in elements.all("section")}
    assert [a for a in elements.all("img") if a.get("alt", "").startswith("Learning curves")]
    assert "unet+gaussian‖" in elements.cells
    assert "‖: its time budget ended its training while its validation error was still falling" in text
    assert "--set max_minutes=M" in text


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)")
def test_a_browser_shows_no_partial_banner_for_a_filtered_run_and_one_for_cells_asked_and_missing(lab_run, registry,
                                                                                                   tmp_path):
    """Issue 20, point 1: the grid's cells that the run's filters left out are not "no result yet"."""
    folder = tmp_path / "filtered"
    shutil.copytree(lab_run, folder)
    done = [r["id"] for r in RunStore(folder).records()]
    left_out = ["f" * 16, "e" * 16]
    RunStore(folder).adopt_grid("lab", done + left_out, allow_change=True, asked=done)
    filtered, _ = page.write(folder, registry, tmp_path / "filtered.html")
    assert "This run is partial" not in _dom(filtered, tmp_path)
    RunStore(folder).adopt_grid("lab", done + left_out)  # a later launch asks for the whole grid
    asked, _ = page.write(folder, registry, tmp_path / "asked.html")
    assert "This run is partial: 2 cell(s) have no result yet" in _dom(asked, tmp_path)


def test_the_conclusion_says_in_how_many_folds_the_budget_stopped_a_network_still_improving(tmp_path, registry):
    """On the wings, 1 of 5 folds ran out of budget still improving: the sentence must not say all of them did."""
    root = tmp_path / "run"
    make_run(root, {"wings": {"dlib": 3.0, "unet+gaussian": 4.0}}, folds=2,
             records={("wings", "unet+gaussian"): [trained(FALLING, max_minutes=10.0),
                                                   trained(FLAT, stopped_by="epochs", max_minutes=10.0)]})
    sentence = page.Report(root, registry).conclusion()[0]
    assert sentence.endswith("; unet+gaussian was still improving when its 10-minute budget ended (in 1 of its 2 "
                             "folds).")
