"""A listening page in plain HTML: a metrics table with the definitions, then per utterance a log-mel
figure and an `<audio>` player for the input and each reconstruction.

The page is self-contained: every link is relative to the page (wavs and pictures beside it), there is
no script and nothing from the network, so the folder can be moved, zipped or served as it is. This
module only renders; what goes on a page is decided by its callers (`report.write_report` for one
evaluation, `demo` for untrained vs trained).
"""
from __future__ import annotations

import dataclasses
import html
import os
import urllib.parse
from typing import Mapping, Sequence

PAGE_FILE = "report.html"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1600px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; } h3 { margin-bottom: .3em; }
table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: .3em .6em; }
td.number { text-align: right; font-variant-numeric: tabular-nums; } th { background: #f3f3f3; }
dt { font-family: monospace; font-weight: bold; } dd { margin: 0 0 .5em 1.5em; }
section.example { margin-bottom: 2em; } .listening { display: inline-block; max-width: 100%; }
.listening img { max-width: 100%; height: auto; display: block; }
.players { display: grid; gap: 1em; margin-top: .5em; }
.players figure { margin: 0; } .players figcaption { font-weight: bold; } .players audio { width: 100%; }
.caption { font-size: .9em; color: #555; margin: .2em 0; }
"""


@dataclasses.dataclass(frozen=True)
class Clip:
    """One player: its heading, the wav's path relative to the page, and a caption (e.g. its metrics)."""

    label: str
    src: str
    caption: str = ""


@dataclasses.dataclass(frozen=True)
class Listening:
    """One utterance: its name and length, its log-mel figure (path relative to the page) and players."""

    name: str
    seconds: float
    figure: str
    clips: Sequence[Clip]


@dataclasses.dataclass(frozen=True)
class Table:
    """A table of text cells; cells that read as numbers are right-aligned."""

    header: Sequence[str]
    rows: Sequence[Sequence[str]]


def number(value: float | None, digits: int = 3) -> str:
    """A table cell for a value that may be missing."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def metric_caption(values: Mapping[str, float]) -> str:
    """One utterance's metric values as one line: `mel_distance 4.061 · si_sdr -40.0 ...`."""
    return " · ".join(f"{name} {value:.3g}" for name, value in values.items())


def _url(path: str) -> str:
    return html.escape(urllib.parse.quote(path.replace(os.sep, "/")), quote=True)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return False


def _table(table: Table) -> list[str]:
    lines = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in table.header) + "</tr>"]
    for row in table.rows:
        cells = "".join(f'<td class="number">{html.escape(c)}</td>' if _is_number(c) else f"<td>{html.escape(c)}</td>"
                        for c in row)
        lines.append(f"<tr>{cells}</tr>")
    return lines + ["</table>"]


def _example(example: Listening) -> list[str]:
    name = html.escape(example.name)
    lines = ['<section class="example">', f"<h3>{name} <small>({example.seconds:.2f} s)</small></h3>",
             '<div class="listening">', f'<img src="{_url(example.figure)}" alt="log-mel spectrograms of {name}: '
             f'{html.escape(", ".join(c.label for c in example.clips))}">',
             f'<div class="players" style="grid-template-columns: repeat({len(example.clips)}, 1fr)">']
    for clip in example.clips:
        lines += ["<figure>", f"<figcaption>{html.escape(clip.label)}</figcaption>",
                  f'<audio controls preload="metadata" src="{_url(clip.src)}"></audio>',
                  f'<p class="caption">{html.escape(clip.caption)}</p>' if clip.caption else "", "</figure>"]
    return lines + ["</div>", "</div>", "</section>"]


def render(title: str, summary: Sequence[str], table: Table, definitions: Mapping[str, str],
           examples: Sequence[Listening], files: Sequence[tuple[str, str]] = (), figure_note: str = "") -> str:
    """The page: `title`, `summary` paragraphs, the metrics `table`, each metric's definition, the
    `examples` (after `figure_note`, a paragraph on how to read the figures) and links to `files`
    (`(href relative to the page, what it is)`). Every text is escaped."""
    lines = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
             f"<h1>{html.escape(title)}</h1>", *(f"<p>{html.escape(p)}</p>" for p in summary),
             "<h2>Metrics</h2>", *_table(table), "<h3>Definitions</h3>", "<dl>"]
    for name, text in definitions.items():
        lines += [f"<dt>{html.escape(name)}</dt>", f"<dd>{html.escape(text)}</dd>"]
    lines.append("</dl>")
    if examples:
        lines += ["<h2>Listen and look</h2>", f"<p>{html.escape(figure_note)}</p>" if figure_note else ""]
        for example in examples:
            lines += _example(example)
    if files:
        lines += ["<h2>Files</h2>", "<ul>", *(f'<li><a href="{_url(href)}">{html.escape(href)}</a>: '
                                              f'{html.escape(what)}</li>' for href, what in files), "</ul>"]
    lines += ["</body>", "</html>"]
    return "".join(f"{line}\n" for line in lines if line)


def write(path: str, page: str) -> None:
    """Write a rendered page (folders created)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
