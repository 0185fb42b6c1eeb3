"""Real landmark files and images, written the way the tools that make them do."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def image(path: Path, width: int, height: int, mode: str = "L", seed: int = 0) -> Path:
    """A real image file; its content depends on seed, its format on the suffix."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":
        pixels = rng.integers(0, 4096, size=(height, width), dtype=np.uint16)
        Image.fromarray(pixels).save(path)
        return path
    base = Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8), "RGB")
    (base.convert(mode) if mode != "RGB" else base).save(path)
    return path


def tps(path: Path, blocks: list[tuple[str, list[tuple[float, float]]]], scale: float | None = None) -> Path:
    """A tpsDig file: one block per (image name, points), y as written (tpsDig counts from the bottom)."""
    lines = []
    for index, (name, points) in enumerate(blocks):
        lines.append(f"LM={len(points)}")
        lines += [f"{x}. {y}." if float(x).is_integer() and float(y).is_integer() else f"{x} {y}" for x, y in points]
        lines.append(f"IMAGE={name}")
        lines.append(f"ID={index}")
        if scale is not None:
            lines.append(f"SCALE={scale}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def dlc_csv(path: Path, parts: list[str], rows: dict[str, list], scorer: str = "Tester") -> Path:
    """DeepLabCut's CollectedData CSV: three header rows, then relative frame path and x, y per part (None = empty)."""
    lines = [",".join(["scorer"] + [scorer] * 2 * len(parts)),
             ",".join(["bodyparts"] + [p for p in parts for _ in (0, 1)]),
             ",".join(["coords"] + ["x", "y"] * len(parts))]
    for frame, values in rows.items():
        lines.append(",".join([frame] + ["" if v is None else repr(float(v)) for v in values]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def labelme(path: Path, points: list[tuple[str, float, float]], size: tuple[int, int], image_path: str) -> Path:
    shapes = [{"label": label, "points": [[x, y]], "group_id": None, "shape_type": "point", "flags": {}}
              for label, x, y in points]
    data = {"version": "5.0.1", "flags": {}, "shapes": shapes, "imagePath": image_path, "imageData": None,
            "imageHeight": size[1], "imageWidth": size[0]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def coco(path: Path, names: list[str], images: list[dict], annotations: list[dict]) -> Path:
    data = {"images": images, "annotations": annotations,
            "categories": [{"id": 1, "name": "animal", "keypoints": names, "skeleton": []}]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def tps_folder(root: Path, n: int = 4, size=(40, 30), landmarks: int = 3) -> Path:
    """A small valid TPS dataset: images img0..imgN-1 and one landmarks.tps."""
    blocks = []
    for i in range(n):
        image(root / f"img{i}.png", *size, seed=i)
        blocks.append((f"img{i}.png", [(5 + i + 3 * k, 5 + 2 * k) for k in range(landmarks)]))
    tps(root / "landmarks.tps", blocks)
    return root


def two_annotator_folder(root: Path, n: int = 2, size=(30, 30)) -> Path:
    """pictures/<i>.png annotated twice (LabelMe): by_ann and by_bob, who puts landmark a 5 px off (3, 4)."""
    for i in range(n):
        image(root / "pictures" / f"{i}.png", *size, seed=i)
        a = (10 + i % 5, 10)
        labelme(root / "by_ann" / f"{i}.json", [("a", *a), ("b", 20, 20)], size, f"{i}.png")
        labelme(root / "by_bob" / f"{i}.json", [("a", a[0] + 3, a[1] + 4), ("b", 20, 20)], size, f"{i}.png")
    return root
