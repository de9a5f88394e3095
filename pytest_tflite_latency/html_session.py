"""``--latency-html PATH``: one page for the session (every check and its verdict), a page per model
beside it, and for checks that regressed against ``--latency-baseline`` the kernel-by-kernel diff.

Loaded only when the option is given. Same results → same bytes: rows sorted, no timestamps.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from pytest_tflite_latency.check import estimate_of
from pytest_tflite_latency.estimator.diff import diff_estimates, html_body, layers_from_dicts
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.html_report import esc, page, render_html
from pytest_tflite_latency.summary import HEADS, row

Key = tuple[str, str]


def _page_name(r: dict) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(r["model"]).stem)[:40] or "model"
    digest = hashlib.sha256(f"{r.get('path', '')}\0{r['model']}\0{r['device']}".encode()).hexdigest()[:10]
    return f"{slug}-{re.sub(r'[^A-Za-z0-9._-]+', '_', r['device'])[:40]}-{digest}.html"


def _model_page(r: dict, folder: Path) -> str | None:
    """Write the model's page into ``folder``; its file name, or None when the model can't be read."""
    est = estimate_of(r)
    if est is None:
        return None
    name = _page_name(r)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(render_html(est, load_graph(r["path"])), encoding="utf-8")
    return name


def _regressed(r: dict) -> bool:
    pct, limit = r.get("regression_pct"), r.get("regression_limit_pct")
    return pct is not None and limit is not None and pct > limit


def _diff_section(r: dict, baseline: dict[Key, dict]) -> str:
    old = baseline.get((r["model"], r["device"]), {})
    new = estimate_of(r)
    if not old.get("layers") or new is None:
        return (f"<h2>{esc(r['model'])} on {esc(r['device'])}</h2><p>regressed {r['regression_pct']:+.1f}% "
                "from the baseline; the baseline report has no kernel figures to compare.</p>")
    try:
        before = layers_from_dicts(f"{r['model']} (baseline)", r["device"], r["baseline_ms"], old["layers"])
    except ValueError as exc:
        return f"<h2>{esc(r['model'])}</h2><p>baseline kernels unreadable: {esc(exc)}</p>"
    return html_body(diff_estimates(before, replace(new, model=r["model"])))


def session_page(results: list[dict], out: Path, baseline: dict[Key, dict]) -> str:
    """The session page's HTML; writes each model's page into ``<out stem>-models/`` beside ``out``."""
    folder = out.parent / f"{out.stem}-models"
    ordered = sorted(results, key=lambda r: (r["model"], r["device"], r.get("test", "")))
    rows = []
    for r in ordered:
        cells = row(r)
        link = _model_page(r, folder)
        model = f'<a href="{esc(quote(f"{folder.name}/{link}"))}">{esc(cells[0])}</a>' if link else esc(cells[0])
        verdict = cells[-1]
        tds = "".join(f"<td>{esc(c)}</td>" for c in cells[1:-1])
        rows.append(f'<tr class="{"ok" if r["passed"] else "fail"}"><td>{model}</td>{tds}'
                    f'<td class="verdict">{esc(verdict)}</td><td>{esc(r.get("test", ""))}</td></tr>')
    heads = "".join(f"<th>{esc(h)}</th>" for h in (*HEADS, "test"))
    passed = sum(r["passed"] for r in results)
    diffs = [_diff_section(r, baseline) for r in ordered if _regressed(r)]
    body = (f"<h1>TFLite latency checks</h1>\n<p id=\"counts\">{passed} passed, {len(results) - passed} failed</p>\n"
            f'<div class="scroll"><table id="checks"><thead><tr>{heads}</tr></thead><tbody>\n'
            + "\n".join(rows) + "\n</tbody></table></div>\n"
            + ("<h2>Regressions against the baseline</h2>\n" + "\n".join(diffs) if diffs else ""))
    return page("TFLite latency checks", body)


def write_session_html(out: Path, results: list[dict], baseline: dict[Key, dict]) -> None:
    """Write the session page to ``out`` (and the model pages beside it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(session_page(results, out, baseline), encoding="utf-8")
