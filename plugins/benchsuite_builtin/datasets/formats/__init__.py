"""Landmark file formats biologists use, one small reader module each.

Every reader offers ``sniff(path) -> bool`` (is this file mine?) and
``read(files, landmark_names) -> Annotations`` (see ``annotations.py``).
``discover`` finds a folder's annotation files and picks the format;
``assemble.load`` pairs them with images and validates, the same for all.
The formats labs correct landmarks in also offer ``write(items,
landmark_names, folder, annotator) -> {file: text}``, the exact inverse of
their reader; ``writing.write`` checks the input and writes the files.
"""
from __future__ import annotations

from . import coco, dlc, labelme, points, table, tps

# Most specific first: a folder holding both a TPS file and a CSV export of
# it (ml-morph ships exactly that) is read as TPS.
READERS = {m.FORMAT: m for m in (tps, dlc, coco, labelme, table, points)}
FORMAT_NAMES = tuple(READERS)
WRITERS = {m.FORMAT: m for m in (tps, labelme, dlc, coco, table)}
