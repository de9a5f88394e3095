"""bench.op_profile: every op of a model cut out into a model of its own that LiteRT runs, timed on both paths."""

from __future__ import annotations

import math

import pytest

from pytest_tflite_latency.bench.op_profile import OpTime, profile_ops, single_op_models, table
from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.estimator.graph import load_graph

pytest.importorskip("ai_edge_litert")


def _model(tmp_path):
    m = ModelWriter()
    x = m.input((1, 8, 8, 16))
    y = m.unary("TANH", m.add(m.conv2d(x, 16, 3), x))
    path = tmp_path / "three_ops.tflite"
    path.write_bytes(m.to_bytes([m.mean(y)]))
    return path


def test_each_op_becomes_a_model_litert_runs_holding_only_that_op(tmp_path):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = _model(tmp_path)
    whole = load_graph(path).main
    models = single_op_models(path.read_bytes())
    assert [i for i, _ in models] == [0, 1, 2, 3]
    for i, data in models:
        ops = load_graph(data).main.ops
        assert [op.opcode for op in ops] == [whole.ops[i].opcode]
        assert ops[0].options == whole.ops[i].options
        it = Interpreter(model_content=data,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        it.allocate_tensors()
        it.invoke()


def test_profile_follows_the_path_tflite_2_10_takes_and_the_table_lists_every_op_kind(tmp_path):
    path = _model(tmp_path)
    times = profile_ops(path, repeats=1)
    assert [(t.opcode, t.delegated) for t in times] == [("CONV_2D", True), ("ADD", True), ("TANH", False),
                                                        ("MEAN", True)]
    assert all(math.isfinite(t.ms) and t.ms >= 0 for t in times)
    tanh = times[2]
    assert tanh.ms == tanh.builtin_ms
    lines = table(times, {"CONV_2D": 1.0, "TANH (builtin)": 1.0}, path)
    assert {line.split()[0] for line in lines[1:-1]} == {"CONV_2D", "ADD", "TANH", "MEAN"}
    assert isinstance(times[0], OpTime)


@pytest.mark.parametrize(("device", "message"), [
    ("pixel4-cpu", "int8 model on pixel4-cpu, which times float32 models"),  # as the estimator refuses it
    ("pixel4-gpu", "--device pixel4-gpu: not an XNNPACK CPU profile"),
])
def test_op_profile_refuses_a_device_whose_shares_would_be_another_precisions_or_the_gpus(tmp_path, capsys,
                                                                                          device, message):
    from pytest_tflite_latency.bench.op_profile import main
    from pytest_tflite_latency.estimator.profile import device_names

    if "pixel4-cpu" not in device_names():
        pytest.skip("CPU profiles not built")
    m = ModelWriter("int8", fill="zeros")
    path = tmp_path / "int8.tflite"
    path.write_bytes(m.to_bytes([m.conv2d(m.input((1, 8, 8, 4)), 4, 3)]))
    assert main([str(path), "--device", device]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
