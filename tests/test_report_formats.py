"""The HTML report, the Model Explorer node data and the diff of two models (their content, not a browser)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_estimate import two_convs

from pytest_tflite_latency.bench import zoo
from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.cli import main
from pytest_tflite_latency.estimator.diff import diff_estimates, layers_from_dicts, render
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.html_report import kernel_edges, render_html
from pytest_tflite_latency.estimator.model_explorer import node_data
from pytest_tflite_latency.estimator.pipeline import estimate

HOSTILE = "</title><script>alert(1)</script>"
HOSTILE_OP = "CUSTOM:<img src=x onerror=alert(2)>"


def hostile_model() -> bytes:
    """Markup in a tensor name (shown in the copy's note), a custom op's name and the description."""
    m = ModelWriter(fill="zeros", description=f"desc {HOSTILE}")
    x = m.conv2d(m.input((1, 16, 16, 8)), 8, 3)
    m.tensors[x].name = HOSTILE
    (x,) = m.op(HOSTILE_OP, [x], [(1, 16, 16, 8)])
    return m.to_bytes([m.conv2d(x, 8, 3)])


@pytest.fixture(scope="module")
def mobilenet_page(tmp_path_factory, mobilenet_path) -> Path:
    out = tmp_path_factory.mktemp("html") / "report.html"
    assert main(["estimate", str(mobilenet_path), "--format", "html", "-o", str(out)]) == 0
    return out


def test_html_page_draws_every_kernel_with_the_total_and_no_outside_resource(mobilenet_page, mobilenet_path):
    page = mobilenet_page.read_text()
    est = estimate(mobilenet_path)
    assert page.count('<g class="kernel"') == len(est.layers)
    assert page.count("<tr data-i=") == len(est.layers)  # the layer table, one row per kernel
    assert f'id="total">{est.total_ms:.3f} ms<' in page
    assert re.findall(r'(?:src|href|action)="([^"#][^"]*)"', page) == []  # links only within the page
    assert "default-src &#x27;none&#x27;" in page  # the Content-Security-Policy


def test_html_page_is_the_same_bytes_for_the_same_input(mobilenet_page, mobilenet_path, tmp_path):
    again = tmp_path / "again.html"
    assert main(["estimate", str(mobilenet_path), "--format", "html", "-o", str(again)]) == 0
    assert again.read_bytes() == mobilenet_page.read_bytes()


def test_graph_edges_follow_the_data_flow_including_residuals(mobilenet_path):
    est = estimate(mobilenet_path)
    edges = kernel_edges(est, load_graph(mobilenet_path))
    assert (0, 1) in edges and all(a < b for a, b in edges)
    assert any(b - a > 1 for a, b in edges)  # MobileNetV2's residual ADDs skip kernels


def test_markup_in_names_paths_and_metadata_is_escaped(tmp_path):
    path = tmp_path / "<b>x<i>&.tflite"
    path.write_bytes(hostile_model())
    est = estimate(path)
    assert [layer.runs_on for layer in est.layers].count("copy") >= 1 and HOSTILE_OP in est.layers[2].ops
    page = render_html(est, load_graph(path))
    assert page.count("<script") == 1 and "<img" not in page and "<b>x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "desc &lt;/title&gt;" in page


def test_model_explorer_node_data_follows_the_builder_schema(tmp_path):
    """The `GraphNodeData` of ai-edge-model-explorer's node_data_builder.py: node ids are op indices."""
    path = tmp_path / "nb201_fp16.tflite"
    path.write_bytes(zoo.build("nasbench201", dtype="float16", fill="zeros"))
    out = tmp_path / "latency.json"
    assert main(["estimate", str(path), "--format", "model-explorer-kernels", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert set(data) <= {"name", "results", "thresholds", "gradient", "hideInAggregatedStatsTable",
                         "hideInChildrenStatsTable", "hideAggregatedStats", "showExpandedSummaryOnGroupNode",
                         "showLabelCountColumnsInChildrenStatsTable"} and isinstance(data["name"], str)
    stops = [g["stop"] for g in data["gradient"]]
    assert stops[0] == 0 and stops[-1] == 1 and all(re.fullmatch(r"#[0-9a-f]{6}", g["bgColor"])
                                                    for g in data["gradient"])
    graph, est = load_graph(path), estimate(path)
    expected = {str(i): round(layer.ms, 6) for layer in est.layers for i in layer.op_indices}
    assert {k: v["value"] for k, v in data["results"].items()} == expected
    dequantize = [str(op.index) for op in graph.main.ops if op.opcode == "DEQUANTIZE"]
    assert dequantize and not set(dequantize) & set(data["results"])  # folded weights: no node value
    assert data == node_data(est, graph, "kernel")


def padded_conv() -> bytes:
    """An explicit PAD (folded into the convolution after it) and a convolution with a fused ADD+RELU."""
    m = ModelWriter(fill="zeros")
    x = m.input((1, 32, 32, 16))
    y = m.conv2d(m.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)]), 16, 3, padding="VALID")
    return m.to_bytes([m.relu(m.add(y, m.conv2d(x, 16, 1)))])


def test_model_explorer_overlay_adds_up_to_the_kernels_sum(tmp_path, mobilenet_path):
    """Model Explorer's own Sum over the overlay reads the kernels' total, fused ops and all."""
    for path in (mobilenet_path, tmp_path / "padded.tflite"):
        if path.name == "padded.tflite":
            path.write_bytes(padded_conv())
        out = tmp_path / "overlay.json"
        assert main(["estimate", str(path), "--format", "model-explorer", "-o", str(out)]) == 0
        values = [v["value"] for v in json.loads(out.read_text())["results"].values()]
        est = estimate(path)
        fused = sum(len(layer.ops) - 1 for layer in est.layers)
        assert fused > 0 and sum(values) == pytest.approx(sum(layer.ms for layer in est.layers), abs=1e-5)
        assert sum(v > 0 for v in values) == sum(layer.ms > 0 for layer in est.layers)


def test_a_kernel_is_charged_to_its_main_op_not_to_a_pad_folded_into_it(tmp_path):
    path = tmp_path / "padded.tflite"
    path.write_bytes(padded_conv())
    est, graph = estimate(path), load_graph(path)
    (padded,) = [layer for layer in est.layers if layer.ops[:1] == ("PAD",)]
    assert padded.ops[1] == "CONV_2D"
    charged = {int(k): v["value"] for k, v in node_data(est, graph)["results"].items()}
    pad, conv = padded.op_indices[:2]
    assert charged[pad] == 0.0 and charged[conv] == pytest.approx(padded.ms, abs=1e-6)
    page = render_html(est, graph)
    by_type = page[page.index("<h2>By op type</h2>"):page.index("<h2>Graph</h2>")]
    assert "PAD" not in by_type and "CONV_2D ×2" in by_type
    assert main(["estimate", str(path)]) == 0


def test_cli_and_html_charge_kernels_to_the_same_op_types(mobilenet_path):
    from pytest_tflite_latency.estimator.attribution import by_op_type
    from pytest_tflite_latency.estimator.report import render

    est = estimate(mobilenet_path)
    table = render(est, "table", width=200)
    summary = table[table.index("summary by op type:"):]
    page = render_html(est, load_graph(mobilenet_path))
    for row in by_op_type(est):
        assert f"{row.op} ×{row.kernels}" in page
        assert re.search(rf"^{row.op}\s+{row.runs_on}\s+{row.kernels}\s+{row.ms:.3f}", summary, re.M)


def test_diff_of_a_model_with_itself_lists_nothing(nb201_path, capsys):
    assert main(["diff", str(nb201_path), str(nb201_path)]) == 0
    out = capsys.readouterr().out
    assert "no kernel changed cost" in out and "(+0.00 ms, +0.0%)" in out


def test_diff_of_a_wider_model_pairs_kernels_and_sorts_by_change():
    old = estimate(zoo.build("mobilenet_v1", size=96, alpha=0.5, fill="zeros"), name="old")
    new = estimate(zoo.build("mobilenet_v1", size=96, alpha=1.0, fill="zeros"), name="new")
    d = diff_estimates(old, new)
    assert {c.status for c in d.changes} == {"changed"} and d.old_kernels == d.new_kernels
    deltas = [abs(c.delta_ms) for c in d.changes]
    assert deltas == sorted(deltas, reverse=True) and deltas[0] > 0
    assert d.old_ms == old.total_ms and d.new_ms == new.total_ms
    assert all(c.old_index == c.new_index for c in d.changes)


def test_diff_text_fits_the_width_it_is_given():
    old = estimate(zoo.build("mobilenet_v1", size=96, alpha=0.5, fill="zeros"), name="old")
    new = estimate(zoo.build("mobilenet_v2", size=96, fill="zeros"), name="new")
    d = diff_estimates(old, new)
    lines = render(d, "text", 80).splitlines()
    assert max(map(len, lines)) <= 80 and lines[3].startswith("change ms")
    assert max(map(len, render(d, "text").splitlines())) > 80  # without a width nothing is cut


def test_diff_names_kernels_that_appeared_and_disappeared(tmp_path, capsys):
    (tmp_path / "old.tflite").write_bytes(two_convs(False))
    (tmp_path / "new.tflite").write_bytes(two_convs(True))
    assert main(["diff", str(tmp_path / "old.tflite"), str(tmp_path / "new.tflite"), "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    status = {(c["ops"], c["runs_on"]): c["status"] for c in d["changes"]}
    assert status[("CUSTOM:Postprocess", "CPU")] == "appeared" and status[("TRANSFER", "copy")] == "appeared"
    assert status[("CONV_2D", "GPU")] == "disappeared" and d["delta_ms"] == d["new_ms"] - d["old_ms"]
    out = tmp_path / "diff.html"
    assert main(["diff", str(tmp_path / "old.tflite"), str(tmp_path / "new.tflite"), "--format", "html",
                 "-o", str(out)]) == 0
    assert "CUSTOM:Postprocess" in out.read_text() and f"{d['new_ms']:.3f} ms" in out.read_text()


def test_diff_against_kernels_read_back_from_a_json_report(nb201_path):
    est = estimate(nb201_path)
    back = layers_from_dicts("base", est.device, est.total_ms, est.to_dict()["layers"])
    assert back.layers == est.layers and diff_estimates(back, est).changes == ()
    with pytest.raises(ValueError, match="malformed layer record"):
        layers_from_dicts("base", est.device, 1.0, [{"index": 0}])


@pytest.mark.parametrize("args,message", [
    (["diff", "missing.tflite", "missing.tflite"], "missing.tflite: no such file"),
    (["estimate", "{model}", "--format", "html", "-o", "/nonexistent/r.html"], "/nonexistent/r.html: cannot write"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, nb201_path, capsys):
    assert main([a.format(model=nb201_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_estimating_imports_none_of_the_report_formats(nb201_path):
    formats = ("html_report", "model_explorer", "diff", "html_session")
    code = ("import sys\nfrom pytest_tflite_latency.cli import main\nfor fmt in sys.argv[1:]:\n"
            f"    main(['estimate', {str(nb201_path)!r}, '--format', fmt, '-o', '/dev/null'])\n"
            "print(sorted(m.rsplit('.', 1)[-1] for m in sys.modules if m.startswith('pytest_tflite_latency.')\n"
            f"             and m.rsplit('.', 1)[-1] in {formats!r}))")

    def loaded(*fmts: str) -> str:
        return subprocess.run([sys.executable, "-c", code, *fmts], capture_output=True, text=True,
                              check=True, timeout=120).stdout.strip()

    assert loaded("table", "json", "csv") == "[]"
    assert loaded("html") == "['html_report']"  # the page does not load the Model Explorer writer
    assert loaded("model-explorer") == "['model_explorer']"  # the check sees a format when it loads


def test_a_diff_keeps_each_estimates_warnings_and_says_whose_they_are():
    plain = ModelWriter()
    old = estimate(plain.to_bytes([plain.conv2d(plain.input((1, 16, 16, 8)), 8, 3)]), "pixel4-gpu")
    m = ModelWriter()
    (b,) = m.op("CUSTOM:FlexMatrixInverse", [m.conv2d(m.input((1, 16, 16, 8)), 8, 3)], [(1, 16, 16, 8)])
    new = estimate(m.to_bytes([b]), "pixel4-gpu")
    d = diff_estimates(old, new)
    flex = next(w for w in new.warnings if "SELECT_TF_OPS" in w)
    assert f"warning (new): {flex}" in d.warning_lines() and not any("(old)" in n for n in d.warning_lines())
    assert flex in render(d, "json") and "warning (new): " in render(d, "text")
    assert diff_estimates(new, new).warning_lines() == [f"warning (both): {w}" for w in new.warnings]
