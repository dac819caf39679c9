"""The self-contained HTML report: one file, inline CSS, figures as base64 PNG data URIs, no scripts.

It opens offline in any browser: nothing is fetched, nothing runs. Per claim it shows the statement, the
figures, the measured numbers (with their uncertainty), the paper's numbers and the verdict with its
reason, all taken from the verdict records of :mod:`proxgan.report.verdicts`.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from proxgan.report.verdicts import CONTRADICTED, INCONCLUSIVE, NOT_APPLICABLE, NOT_REPRODUCED, REPRODUCED

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_VERDICT_CLASS = {REPRODUCED: "ok", CONTRADICTED: "against", INCONCLUSIVE: "unsure", NOT_REPRODUCED: "no",
                  NOT_APPLICABLE: "na"}

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2327; max-width: 1100px;
       margin: 0 auto; padding: 1.5em; background: #fafafa; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { margin-top: 0; font-size: 1.3em; }
.sub { color: #555; margin-top: 0; }
section.claim { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 1.2em 1.4em; margin: 1.4em 0; }
.source { color: #666; font-size: .9em; }
.statement { font-style: italic; }
.verdict { display: inline-block; padding: .15em .7em; border-radius: 1em; font-weight: 600; }
.verdict.ok { background: #d7f5dd; color: #0b5d1e; } .verdict.no { background: #ffe6c7; color: #8a4b00; }
.verdict.na { background: #e8e8e8; color: #444; }
.verdict.against { background: #fbd5d5; color: #8b1a1a; }
.verdict.unsure { background: #fff3b8; color: #5c4a00; border: 1px dashed #b39700; }
.ci { color: #555; white-space: nowrap; }
.reason { margin: .5em 0 1em; }
.figs { display: flex; flex-wrap: wrap; gap: 1em; } figure { margin: 1em 0; flex: 1 1 420px; max-width: 100%; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #666; font-size: .85em; }
table { border-collapse: collapse; margin: .4em 0; font-size: .92em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.cols { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1.2em; }
.cols > * { min-width: 0; overflow-x: auto; }
@media (max-width: 800px) { .cols { grid-template-columns: 1fr; } }
footer { color: #444; font-size: .88em; border-top: 1px solid #ccc; margin-top: 2em; padding-top: 1em; }
.missing { color: #8a4b00; }
"""


def png_data_uri(path: Path) -> str | None:
    """``data:image/png;base64,…`` for a PNG file, or None if it is missing or not a PNG."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if not data.startswith(PNG_MAGIC):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def format_value(value: Any) -> str:
    """One measured value as escaped HTML: mean ± std (n) [95 % CI lo, hi], numbers to 4 significant digits,
    tables for rows."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, Mapping):
        if "mean" in value and "ci95" in value:
            spread = f" ± {format_value(value['std'])}" if value.get("std") is not None else ""
            n = f" (n = {value['n']})" if value.get("n") is not None else ""
            ci = value["ci95"]
            interval = (f' <span class="ci">[95 % CI {format_value(ci[0])}, {format_value(ci[1])}]</span>'
                        if ci is not None else ' <span class="ci">[no interval]</span>')
            return f"{format_value(value['mean'])}{spread}{n}{interval}"
        if "mean" in value and "std" in value:
            n = f" (n = {value['n']})" if value.get("n") is not None else ""
            return f"{format_value(value['mean'])} ± {format_value(value['std'])}{n}"
        return format_mapping(value)
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, Mapping) for v in value):
            return format_rows(value)
        return ", ".join(format_value(v) for v in value)
    return html.escape(str(value))


def key_label(key: Any) -> str:
    """A results key as a table header, breakable after its underscores (long keys wrap, not overflow)."""
    return html.escape(str(key)).replace("_", "_<wbr>")


def format_mapping(mapping: Mapping[str, Any]) -> str:
    """A two-column table: key, formatted value."""
    if not mapping:
        return "—"
    body = "".join(f"<tr><th>{key_label(k)}</th><td>{format_value(v)}</td></tr>" for k, v in mapping.items())
    return f"<table>{body}</table>"


def format_rows(rows: list[Mapping[str, Any]]) -> str:
    """A table with one row per record and the union of their keys as columns."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{key_label(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{format_value(row.get(c))}</td>" for c in columns) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_figure(root: Path, name: str) -> str:
    """A <figure> with the PNG embedded, or a visible note when the file is missing."""
    uri = png_data_uri(root / name)
    if uri is None:
        return f'<p class="missing">figure {html.escape(name)} is missing or not a PNG</p>'
    return (f'<figure><img src="{uri}" alt="{html.escape(name)}">'
            f"<figcaption>{html.escape(name)}</figcaption></figure>")


def render_claim(record: Mapping[str, Any], root: Path) -> str:
    """One claim's <section>: title, source, statement, verdict and reason, figures, measured vs paper."""
    cls = _VERDICT_CLASS[record["verdict"]]
    figures = "".join(render_figure(root, name) for name in record.get("figures", []))
    paper = format_value(record["paper"]) if record.get("paper") else "<p>The paper gives no number for this.</p>"
    thresholds = (f"<p class=\"source\">Thresholds: {format_value(record['thresholds'])}</p>"
                  if record.get("thresholds") else "")
    return f"""
<section class="claim" id="claim-{html.escape(record['claim'])}">
<h2>{html.escape(record['title'])}</h2>
<p class="source">{html.escape(record['source'])}</p>
<p class="statement">{html.escape(record['statement'])}</p>
<p><span class="verdict {cls}">{html.escape(record['verdict'])}</span></p>
<p class="reason">{html.escape(record['reason'])}</p>
<div class="figs">{figures}</div>
<div class="cols"><div><h3>Measured by proxgan</h3>{format_value(record['measured'])}</div>
<div><h3>The paper</h3>{paper}</div></div>
{thresholds}
</section>"""


def render_summary(records: list[Mapping[str, Any]]) -> str:
    """The table of contents: each claim, its source and its verdict, linked to its section."""
    rows = "".join(
        f'<tr><td><a href="#claim-{html.escape(r["claim"])}">{html.escape(r["title"])}</a></td>'
        f"<td>{html.escape(r['source'])}</td>"
        f'<td><span class="verdict {_VERDICT_CLASS[r["verdict"]]}">{html.escape(r["verdict"])}</span></td></tr>'
        for r in records
    )
    return f"<table><tr><th>claim</th><th>source</th><th>verdict</th></tr>{rows}</table>"


def render_page(records: list[Mapping[str, Any]], *, root: Path, heading: str, intro: str,
                footer: Mapping[str, Any]) -> str:
    """The whole report page; figures are read from ``root`` (the reproduction directory) and embedded."""
    claims = "".join(render_claim(r, root) for r in records)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(heading)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{html.escape(heading)}</h1>
<p class="sub">{html.escape(intro)}</p>
{render_summary(records)}
</header>
<main>{claims}
</main>
<footer><h3>Environment and run</h3>{format_mapping(footer)}</footer>
</body>
</html>
"""
