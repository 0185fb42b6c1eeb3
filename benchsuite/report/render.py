"""A table as the papers print it, rendered to markdown, LaTeX, HTML or CSV.

A ``Table`` keeps two views of the same content: formatted ``rows`` of
``Entry`` (text plus emphasis: bold for the best, a dagger for "not
significantly worse than the best") for people, and ``data``, the plain
numbers, for CSV and for programs. tabulate draws md, LaTeX and HTML; pandas
writes CSV.
"""
from __future__ import annotations

import html
import math
import re
import sys
import textwrap
from dataclasses import dataclass, field

import pandas as pd
from tabulate import tabulate

FORMATS = ("plain", "md", "markdown", "latex", "csv", "html")  # markdown: md spelled out
PLAIN_WRAP = 30  # a plain table's cells wrap at this many characters, so it fits a terminal
PLAIN_NOTES = 100  # and its notes at this many
DAGGER_NOTE = "†: not significantly worse than the best"


@dataclass
class Entry:
    text: str
    bold: bool = False
    dagger: bool = False
    flags: str = ""  # footnote marks (see report.flags), after the text and any dagger


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Entry]]
    data: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _fixed(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals; no minus sign on a value that rounds to zero (-0.0000)."""
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def number(value: float, digits: int = 2) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else _fixed(value, digits)


def mean_std(mean: float, std: float, digits: int = 2) -> str:
    """``mean ± std``; only the mean when there is no spread to show (one fold)."""
    if mean is None or math.isnan(mean):
        return "—"
    if std is None or math.isnan(std):
        return _fixed(mean, digits)
    return f"{_fixed(mean, digits)} ± {_fixed(std, digits)}"


def terminal_format() -> str:
    """The format a table is printed in when none is asked for: aligned plain text for a person at a terminal,
    markdown where the output goes on (a pipe, a file)."""
    return "plain" if sys.stdout.isatty() else "md"


def render(table: Table, fmt: str = "md") -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt == "csv":
        return table.data.to_csv(index=False)
    if fmt == "plain":
        return _plain_table(table)
    fmt = "md" if fmt == "markdown" else fmt
    cell = {"md": _md, "latex": _latex, "html": _html}[fmt]
    rows = [[cell(e) for e in row] for row in table.rows]
    headers = [cell(Entry(h)) for h in table.headers]
    if fmt == "md":
        body = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
        lines = [f"**{table.title}**", "", body] + ([""] + [f"- {n}" for n in table.notes] if table.notes else [])
        return "\n".join(lines)
    if fmt == "latex":
        body = tabulate(rows, headers=headers, tablefmt="latex_raw", disable_numparse=True)
        notes = [f"% {n}" for n in [table.title] + table.notes]
        return "\n".join(notes + [body])
    body = tabulate(rows, headers=headers, tablefmt="unsafehtml", disable_numparse=True)
    notes = "".join(f"<p>{html.escape(n)}</p>" for n in table.notes)
    return f"<h3>{html.escape(table.title)}</h3>\n{body}\n{notes}"


def _plain_table(table: Table) -> str:
    """An aligned table for a terminal: no markup (the best marked *), long texts wrapped, notes wrapped."""
    rows = [[_plain(e) for e in row] for row in table.rows]
    body = tabulate(rows, headers=table.headers, tablefmt="simple", disable_numparse=True, maxcolwidths=PLAIN_WRAP,
                    maxheadercolwidths=PLAIN_WRAP // 2)
    notes = [textwrap.fill(re.sub(r"^bold:", "*:", note), PLAIN_NOTES, initial_indent="- ", subsequent_indent="  ")
             for note in table.notes]
    return "\n".join([table.title, "", body] + ([""] + notes if notes else []))


def _plain(entry: Entry) -> str:
    return entry.text + ("*" if entry.bold and entry.text else "") + ("†" if entry.dagger else "") + entry.flags


def _md(entry: Entry) -> str:
    text = entry.text.replace("|", "\\|")
    text = f"**{text}**" if entry.bold and text else text
    return text + ("†" if entry.dagger else "") + entry.flags


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", "δ": r"$\delta$", "σ": r"$\sigma$", "²": r"$^2$", "—": "--", "†": r"$^\dagger$",
                  "≈": r"$\approx$", "×": r"$\times$", "√": r"$\surd$", "‡": r"$^\ddagger$", "§": r"\S{}", "¶": r"\P{}",
                  "‖": r"$\|$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex(entry: Entry) -> str:
    text = latex_escape(entry.text)
    text = rf"\textbf{{{text}}}" if entry.bold and text else text
    return text + (r"$^\dagger$" if entry.dagger else "") + latex_escape(entry.flags)


def _html(entry: Entry) -> str:
    text = html.escape(entry.text)
    text = f"<b>{text}</b>" if entry.bold and text else text
    return text + ("&dagger;" if entry.dagger else "") + html.escape(entry.flags)
