"""``--latency-html PATH``: one page for the session (every check and its verdict), one page per model and
device beside it (written when the check is made, from that very estimate), and for checks that regressed
against ``--latency-baseline`` the kernel-by-kernel diff from the records' kernels.

Loaded only when the option is given. Same results → same bytes: rows sorted, no timestamps.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import quote

from pytest_tflite_latency.baseline import Key, baseline_entry
from pytest_tflite_latency.estimator.diff import diff_estimates, html_body, layers_from_dicts
from pytest_tflite_latency.estimator.html_report import esc, page
from pytest_tflite_latency.json_report import write_text_atomic
from pytest_tflite_latency.records import CheckRecord
from pytest_tflite_latency.summary import MARKDOWN_HEADS, markdown_row


def models_folder(out: Path) -> Path:
    return out.parent / f"{out.stem}-models"


def page_name(path: str, device: str) -> str:
    """One page per model file and device, however many checks name it."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem)[:40] or "model"
    digest = hashlib.sha256(f"{path}\0{device}".encode()).hexdigest()[:10]
    return f"{slug}-{re.sub(r'[^A-Za-z0-9._-]+', '_', device)[:40]}-{digest}.html"


def write_model_page(out: Path, record: CheckRecord, model: Path, written: set[str],
                     search_dirs: tuple[str, ...] = ()) -> str:
    """Write ``record``'s model page (once per model and device in this process); its link from ``out``."""
    from pytest_tflite_latency.check import estimate_file
    from pytest_tflite_latency.estimator.graph import load_graph
    from pytest_tflite_latency.estimator.html_report import render_html

    name = page_name(record.path, record.device)
    if name not in written:
        folder = models_folder(out)
        folder.mkdir(parents=True, exist_ok=True)
        est = estimate_file(model, record.device, search_dirs)  # cached: the estimate the check just made
        write_text_atomic(folder / name, render_html(est, load_graph(model)))
        written.add(name)
    return f"{models_folder(out).name}/{name}"


def _diff_section(r: CheckRecord, baseline: dict[Key, CheckRecord]) -> str:
    old = baseline_entry(baseline, r)
    if old is None or not old.layers or not r.layers:
        return (f"<h2>{esc(r.model)} on {esc(r.device)}</h2><p>regressed {r.regression_pct:+.1f}% "
                "from the baseline; the baseline report has no kernel figures to compare.</p>")
    try:
        before = layers_from_dicts(f"{r.model} (baseline)", r.device, r.baseline_ms, old.layers)
        after = layers_from_dicts(r.model, r.device, r.estimate_ms, r.layers)
    except ValueError as exc:
        return f"<h2>{esc(r.model)}</h2><p>baseline kernels unreadable: {esc(exc)}</p>"
    return html_body(diff_estimates(before, after))


def session_page(records: list[CheckRecord], baseline: dict[Key, CheckRecord]) -> str:
    """The session page's HTML: a row per check, linked to its model's page."""
    ordered = sorted(records, key=lambda r: (r.model, r.device, r.test))
    rows = []
    for r in ordered:
        cells = markdown_row(r)
        model = f'<a href="{esc(quote(r.page))}">{esc(cells[0])}</a>' if r.page else esc(cells[0])
        tds = "".join(f"<td>{esc(c)}</td>" for c in cells[1:-2])
        rows.append(f'<tr class="{"ok" if r.passed else "fail"}"><td>{model}</td>{tds}'
                    f'<td class="verdict">{esc(r.verdict)}</td><td>{esc(r.test)}</td></tr>')
    heads = "".join(f"<th>{esc(h)}</th>" for h in MARKDOWN_HEADS)
    passed = sum(r.passed for r in records)
    diffs = [_diff_section(r, baseline) for r in ordered if r.regressed]
    warned = [(r, w) for r in ordered for w in r.warnings]
    warnings = ("<h2>Estimator warnings</h2>\n<ul>" + "".join(
        f"<li>{esc(r.model)} on {esc(r.device)}: {esc(w)}</li>" for r, w in warned) + "</ul>\n") if warned else ""
    body = (f"<h1>TFLite latency checks</h1>\n<p id=\"counts\">{passed} passed, {len(records) - passed} failed</p>\n"
            f'<div class="scroll"><table id="checks"><thead><tr>{heads}</tr></thead><tbody>\n'
            + "\n".join(rows) + "\n</tbody></table></div>\n" + warnings
            + ("<h2>Regressions against the baseline</h2>\n" + "\n".join(diffs) if diffs else ""))
    return page("TFLite latency checks", body)


def write_session_html(out: Path, records: list[CheckRecord], baseline: dict[Key, CheckRecord]) -> None:
    """Write the session page to ``out`` (the model pages are beside it already)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, session_page(records, baseline))
