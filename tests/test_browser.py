"""The HTML report in a real browser: Debian's headless Chromium, loading the page from disk with
networking off, checked through the DevTools protocol (see tests/browser.py)."""

from __future__ import annotations

import pytest
from browser import Browser, chromium_path, png_colours
from test_report_formats import HOSTILE, hostile_model

from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.cli import main
from pytest_tflite_latency.estimator.pipeline import estimate

KERNELS = "document.querySelectorAll('g.kernel').length"
FIRST_MS = "document.querySelector('table.sortable tbody tr').cells[10].textContent"


@pytest.fixture(scope="module")
def browser():
    binary = chromium_path()
    if binary is None:
        pytest.skip("chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
    b = Browser(binary)
    yield b
    b.close()


def page_of(model, tmp_path, name: str = "report.html"):
    out = tmp_path / name
    assert main(["estimate", str(model), "--format", "html", "-o", str(out)]) == 0
    return out


def click_header(browser: Browser, title: str) -> None:
    browser.evaluate(f"Array.prototype.find.call(document.querySelectorAll('th'), "
                     f"function (th) {{ return th.textContent === {title!r}; }}).click()")


def test_page_renders_kernels_total_sorting_and_a_screenshot(browser, mobilenet_path, tmp_path):
    path = page_of(mobilenet_path, tmp_path)
    est = estimate(mobilenet_path)
    browser.events.clear()
    browser.open(path)
    assert browser.evaluate(KERNELS) == len(est.layers)
    assert browser.evaluate("document.getElementById('total').textContent") == f"{est.total_ms:.3f} ms"
    click_header(browser, "ms")  # ascending, then descending: the page's own script runs under its CSP
    click_header(browser, "ms")
    assert browser.evaluate(FIRST_MS) == f"{max(layer.ms for layer in est.layers):.3f}"
    assert browser.errors() == []
    assert browser.requests() == [path.resolve().as_uri()]
    assert png_colours(browser.screenshot(scale=0.25)) > 20


def test_blank_screenshot_and_script_errors_are_detected(browser):
    """The checks above can fail: an empty page is blank, a thrown error is seen."""
    browser.events.clear()
    browser.evaluate("document.documentElement.innerHTML = ''; setTimeout(function () { missing(); }, 0); 1")
    browser.evaluate("new Promise(function (ok) { setTimeout(ok, 50); })")
    assert png_colours(browser.screenshot(scale=0.25)) <= 2
    assert any("missing is not defined" in e for e in browser.errors())


def test_markup_from_the_model_stays_text_in_the_browser(browser, tmp_path):
    model = tmp_path / "<img src=x onerror=alert(3)>.tflite"
    model.write_bytes(hostile_model())
    browser.events.clear()
    browser.open(page_of(model, tmp_path))
    assert browser.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert browser.evaluate("document.scripts.length") == 1
    assert HOSTILE in browser.evaluate("document.body.textContent")
    assert "<img src=x onerror=alert(3)>" in browser.evaluate("document.title")
    assert not [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"]
    assert browser.errors() == []


def test_a_500_kernel_page_loads_and_sorts(browser, tmp_path):
    m = ModelWriter(fill="zeros")
    x = m.input((1, 8, 8, 8))
    for i in range(500):
        x = m.conv2d(x, 8, 1 + 2 * (i % 2))
    model = tmp_path / "deep.tflite"
    model.write_bytes(m.to_bytes([x]))
    est = estimate(model)
    assert len(est.layers) == 500
    browser.events.clear()
    browser.open(page_of(model, tmp_path))
    assert browser.evaluate(KERNELS) == 500
    click_header(browser, "ms")
    assert browser.evaluate(FIRST_MS) == f"{min(layer.ms for layer in est.layers):.3f}"
    assert browser.errors() == []


def test_diff_page_renders_its_changes_without_errors(browser, nb201_path, mobilenet_path, tmp_path):
    out = tmp_path / "diff.html"
    assert main(["diff", str(nb201_path), str(mobilenet_path), "--format", "html", "-o", str(out)]) == 0
    browser.events.clear()
    browser.open(out)
    rows = browser.evaluate("document.querySelectorAll('table.sortable tbody tr').length")
    assert rows > 0 and rows == out.read_text().count("<tr data-i=")
    assert browser.errors() == []
