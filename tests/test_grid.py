"""Grids: cross-product, filters, named and user grids, skipped combinations with reasons."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from benchsuite.api import PluginError
from benchsuite.cli import main
from benchsuite.run.grid import codec_incompatibility, encoder_incompatibility, expand, load_spec


def test_all_is_the_full_cross_product_of_installed_plugins_times_folds(registry):
    grid = expand(load_spec("all"), registry)
    left_out = {note.split(" left out")[0] for note in grid.notes}
    assert {"dataset folder", "encoder smp", "dataset zebrafish"} <= left_out  # needs a path / a name / its files
    usable = {kind: [e for e in registry.entries(kind) if f"{kind[:-1]} {e.name}" not in left_out]
              for kind in ("datasets", "encoders")}
    assert "synthetic" in {e.name for e in usable["datasets"]}
    expected = 0
    methods = [e for e in registry.entries("methods") if e.cls.unavailable() is None]
    for arch, enc, codec in itertools.product(registry.entries("architectures") + methods, [None, *usable["encoders"]],
                                              [None, *registry.entries("codecs")]):
        ok = encoder_incompatibility(arch.cls, enc and enc.cls) is None
        ok = ok and codec_incompatibility(arch.cls, codec and codec.cls) is None
        expected += ok
    assert expected > 0
    assert len(grid.cells) == expected * len(usable["datasets"]) * grid.protocol.folds
    assert grid.protocol.name == "kumar2022" and grid.protocol.folds == 5
    assert len({c.id for c in grid.cells}) == len(grid.cells)


def test_incompatible_combinations_are_skipped_with_their_reason(registry):
    grid = expand(load_spec("smoke"), registry)
    reasons = {s.describe() for s in grid.skipped}
    assert any("mean-shape+resnet18: mean-shape takes no encoder" in r for r in reasons)
    assert any("smp-unet" in r and "regression needs coords output; smp-unet produces only heatmap" in r
               for r in reasons)
    assert any("fc-regression" in r and "gaussian needs heatmap output" in r for r in reasons)
    methods = {c.method for c in grid.cells}
    assert len(methods) == 3 and len(grid.cells) == 3 * grid.protocol.folds


def test_glob_filters_narrow_each_axis(registry):
    spec = load_spec("smoke")
    only_unet = expand(spec, registry, {"architectures": "smp-*"})
    assert {c.architecture.name for c in only_unet.cells} == {"smp-unet"}
    no_match = expand(spec, registry, {"codecs": "regr*", "architectures": "smp-*"})
    assert no_match.cells == [] and no_match.skipped
    assert expand(spec, registry, {"datasets": "nothing*"}).cells == []


def test_user_grid_file_with_a_parameter_sweep_and_settings(tmp_path, registry):
    path = tmp_path / "sweep.toml"
    path.write_text("""
protocol = "smoke"
datasets = ["synthetic"]
architectures = ["smp-unet"]
encoders = ["resnet*"]
codecs = [{ name = "gaussian", sigma = 2 }, { name = "gaussian", sigma = 4 }]
[settings]
folds = 2
epochs = 3
""")
    grid = expand(load_spec(str(path)), registry)
    assert grid.protocol.epochs == 3 and grid.protocol.folds == 2
    resnets = [n for n in registry.names("encoders") if n.startswith("resnet")]
    assert len(resnets) >= 3 and len(grid.cells) == len(resnets) * 2 * 2
    assert {c.codec.label for c in grid.cells} == {"gaussian(sigma=2)", "gaussian(sigma=4)"}  # 2.0 shown as 2


@pytest.mark.parametrize("text,message", [
    ('architectures = ["no-such-net"]', "unknown architecture or method 'no-such-net'"),
    ('colour = "blue"', "unknown grid keys"),
    ('protocol = "nope"', "unknown protocol 'nope'"),
    ("[settings]\nepochs = 'many'", "epochs"),
    ("[settings]\nlearning_rate = 1", "unknown protocol setting"),
    ("codecs = [{ sigma = 1 }]", "has no name"),
    ("datasets = [", "not valid TOML"),
])
def test_bad_grid_files_give_clear_errors(tmp_path, registry, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PluginError, match=message):
        expand(load_spec(str(path)), registry)


def test_dry_run_prints_cells_skips_and_the_count(capsys):
    assert main(["run", "--grid", "smoke", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("  run   ") == 9 and "  skip  " in out and "takes no encoder" in out
    assert "9 cells to run" in out and "combinations skipped" in out


def test_unknown_grid_is_a_one_line_error(capsys):
    assert main(["run", "--grid", "nonexistent"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown grid 'nonexistent'" in err[0]


def test_a_label_names_an_entry_without_changing_its_identity(tmp_path, registry):
    path = tmp_path / "labelled.toml"
    body = 'protocol = "smoke"\narchitectures = ["mean-shape"]\n'
    path.write_text(body + 'datasets = [{ name = "synthetic", label = "fish", n_images = 20 }]\n')
    labelled = expand(load_spec(str(path)), registry).cells
    path.write_text(body + 'datasets = [{ name = "synthetic", n_images = 20 }]\n')
    plain = expand(load_spec(str(path)), registry).cells
    assert [c.id for c in labelled] == [c.id for c in plain]
    assert labelled[0].describe().startswith("fish |") and plain[0].describe().startswith("synthetic(n_images=20) |")


def test_an_explicit_methods_list_runs_exactly_those_combinations(tmp_path, registry):
    path = tmp_path / "methods.toml"
    path.write_text('''protocol = "smoke"
datasets = ["synthetic"]
methods = [
    { architecture = "mean-shape" },
    { architecture = { name = "smp-unet", encoder_depth = 3 }, encoder = "resnet18", codec = { name = "exponential", sigma = 3 } },
    { architecture = { name = "fc-regression", encoder_depth = 3 }, encoder = "resnet18", codec = "regression" },
]
''')
    grid = expand(load_spec(str(path)), registry)
    methods = {(c.architecture.name, c.encoder and c.encoder.name, c.codec and c.codec.name) for c in grid.cells}
    assert methods == {("mean-shape", None, None), ("smp-unet", "resnet18", "exponential"),
                       ("fc-regression", "resnet18", "regression")}
    path.write_text(path.read_text() + 'codecs = ["gaussian"]\n')
    with pytest.raises(PluginError, match="either methods or the architectures"):
        load_spec(str(path))


@pytest.mark.parametrize("sizes,expected", [
    ([(632, 480)] * 5, (160, 128)),  # the fly wings: about 4 original pixels per input pixel
    ([(1340, 1671)] * 3, (160, 192)),  # the X-rays: capped at 192, portrait kept
    ([(1000, 800)] * 3, (192, 160)),  # capped: 250 px would be about 4 original pixels per input pixel
    ([(100, 80)], (128, 128)),  # small images: at least 128
])
def test_an_automatic_input_follows_the_images_sizes(sizes, expected):
    from benchsuite.run.grid import auto_input_size

    assert auto_input_size(sizes) == expected


def test_the_lab_grid_is_the_default_for_a_folder_and_its_dry_run_details_each_cell(tmp_path, capsys):
    from landmark_files import tps_folder

    from benchsuite.cli import main

    data = tps_folder(tmp_path / "wings", n=6, size=(632, 480))
    assert main(["run", "-d", str(data), "--dry-run", "-a", "mean-shape", "-a", "smp-unet", "--budget", "30m"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"run wings in {Path('results') / 'wings'} (new)\ngrid lab:")
    assert "input 160×128" in out and "budget 6 min" in out and ", pretrained" in out  # 30 min over 5 network cells
    assert "no network: fits on the original images" in out and " min here" in out


def test_a_method_for_large_originals_runs_only_where_the_images_are_that_large(tmp_path, registry):
    from landmark_files import tps_folder

    from benchsuite.lab.datasets import folder_component

    spec = load_spec("lab")
    small = folder_component(str(tps_folder(tmp_path / "wings", n=6, size=(632, 480))), registry)
    large = folder_component(str(tps_folder(tmp_path / "xrays", n=6, size=(1340, 1671))), registry)
    spec.axes["datasets"] = [small, large]
    grid = expand(spec, registry)
    refined = [c for c in grid.cells if c.architecture.name == "coarse-to-fine"]
    assert len(refined) == 5 and all("xrays" in c.dataset.label for c in refined)  # δ 8.7 at 160×192 on these
    (skipped,) = [s for s in grid.skipped if s.architecture.name == "coarse-to-fine"]
    assert "wings" in skipped.dataset.label and "at least 4× the network input; these are 3.95× 160×128" in skipped.reason


@pytest.mark.parametrize("value", [0.5, "4", True])
def test_min_downscale_must_be_a_number_of_at_least_one(tmp_path, value):
    path = tmp_path / "bad.toml"
    path.write_text('protocol = "smoke"\ndatasets = ["synthetic"]\n'
                    f'methods = [{{ architecture = "mean-shape", min_downscale = {json.dumps(value)} }}]\n')
    with pytest.raises(PluginError, match="min_downscale must be a number >= 1"):
        load_spec(str(path))


def test_a_grid_without_datasets_runs_on_an_installed_dataset_named_with_d(capsys):
    from benchsuite.cli import main

    assert main(["run", "--grid", "lab", "-d", "synthetic", "-a", "mean-shape", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("grid lab:") and "synthetic | mean shape | fold 4" in out


def test_a_budget_counts_a_method_that_trains_its_own_networks(tmp_path, capsys):
    from landmark_files import tps_folder

    from benchsuite.cli import main

    data = tps_folder(tmp_path / "xrays", n=6, size=(1340, 1671))
    assert main(["run", "-d", str(data), "--dry-run", "-a", "coarse-to-fine", "-a", "mean-shape",
                 "--budget", "10m"]) == 0
    out = capsys.readouterr().out
    assert "trains its own networks: input 160×192, ≤300 epochs, budget 2 min in all" in out  # 10 min / 5 cells


def test_a_mistyped_folder_is_named_as_such_not_as_a_filter_of_the_smoke_grid(tmp_path, capsys, monkeypatch):
    from benchsuite.cli import main

    (tmp_path / "wings").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["run", "-d", "wigns", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "-d wigns: no folder or file 'wigns' here" in err and len(err.strip().splitlines()) == 1
    assert main(["run", "-d", "synthetic-f*", "--dry-run"]) == 0  # a pattern is a filter as before


def test_a_method_is_selected_by_the_name_the_tables_print(registry, capsys):
    from benchsuite.cli import main

    assert main(["run", "--grid", "smoke", "-a", "unet-small+resnet18+gaussian(σ=4)", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "unet-small+resnet18+gaussian(σ=4) | fold 2" in out and "mean-shape" not in out
    assert main(["run", "--grid", "smoke", "-a", "U-Net+nothing", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "-a U-Net+nothing matches no cell (its methods: " in err and "mean-shape" in err
