"""file → graph: every valid model parses; every bad file gives one clear ModelError."""

from __future__ import annotations

import pytest
import tflite

from pytest_tflite_latency.bench import zoo
from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.estimator.errors import ModelError
from pytest_tflite_latency.estimator.graph import load_graph


def test_ops_are_read_by_their_builtin_names(nb201_bytes):
    g = load_graph(nb201_bytes, "nb201")
    ops = {o.opcode for o in g.main.ops}
    assert ops == {"CONV_2D", "ADD", "RELU", "AVERAGE_POOL_2D", "MUL", "MEAN", "FULLY_CONNECTED"}


def test_op_options_are_read_by_their_schema_names(nb201_bytes):
    conv = next(o for o in load_graph(nb201_bytes).main.ops if o.opcode == "CONV_2D")
    assert conv.options["StrideW"] == 1 and conv.options["Padding"] == 0


def test_input_shape_is_read(nb201_bytes):
    g = load_graph(nb201_bytes)
    assert g.main.tensors[g.main.inputs[0]].shape == (1, 32, 32, 3)


def test_weights_are_constants_and_activations_are_not(nb201_bytes):
    g = load_graph(nb201_bytes)
    conv = next(o for o in g.main.ops if o.opcode == "CONV_2D")
    assert g.main.tensors[conv.inputs[1]].is_const
    assert not g.main.tensors[conv.inputs[0]].is_const


@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_tensor_types_are_read(dtype):
    g = load_graph(zoo.build("mobilenet_v2", dtype=dtype, size=96))
    dtypes = {g.main.tensors[i].dtype for o in g.main.ops for i in o.inputs if i >= 0}
    assert dtype in dtypes


def test_quantization_parameters_mark_a_tensor_quantized():
    g = load_graph(zoo.build("mobilenet_v2", dtype="int8", size=96))
    assert any(t.quantized for t in g.main.tensors)


def test_every_builtin_op_code_round_trips():
    """One model holding every builtin op the schema knows: each parses back by name."""
    names = sorted(k for k in vars(tflite.BuiltinOperator) if not k.startswith("_") and k != "CUSTOM"
                   and k != "PLACEHOLDER_FOR_GREATER_OP_CODES")
    m = ModelWriter()
    x = m.input((1, 4, 4, 2))
    for name in names:
        m.op(name, [x], [(1, 4, 4, 2)])
    m.op("CUSTOM:MyOp", [x], [(1, 4, 4, 2)], custom_options=b"\x01\x02")
    g = load_graph(m.to_bytes([x]))
    assert [o.opcode for o in g.main.ops] == [*names, "CUSTOM:MyOp"]


def _with_metadata_and_a_second_subgraph() -> tuple[bytes, int]:
    m = ModelWriter()
    x = m.input((2, 7))
    y = m.fully_connected(x, 3)
    body = m.subgraph("init")
    body.input((3,))
    m.add_metadata("min_runtime_version", b"2.3.0")
    return m.to_bytes([y]), y


def test_every_subgraph_is_read_with_its_name():
    g = load_graph(_with_metadata_and_a_second_subgraph()[0])
    assert len(g.subgraphs) == 2 and g.subgraphs[1].name == "init"


def test_metadata_names_are_read():
    assert load_graph(_with_metadata_and_a_second_subgraph()[0]).metadata == ("min_runtime_version",)


def test_a_2d_tensor_keeps_its_shape():
    data, y = _with_metadata_and_a_second_subgraph()
    assert load_graph(data).main.tensors[y].shape == (2, 3)


def test_dynamic_batch_is_assumed_one_with_a_warning():
    m = ModelWriter()
    x = m.input((1, 8, 8, 3), dynamic_batch=True)
    g = load_graph(m.to_bytes([m.conv2d(x, 4, 3)]))
    (warning,) = g.warnings  # one line for all tensors, not one per tensor
    assert "dynamic batch dimension in 1 tensor (first 'input0'), assumed 1" in warning


@pytest.mark.parametrize("content,problem", [
    (None, "no such file"),
    (b"", "file is empty"),
    (b"abc", "only 3 bytes"),
    (b"PK\x03\x04" + b"\0" * 64, "not a TFLite model: file identifier"),
    (b"hello, this is plain text, not a model", "not a TFLite model"),
])
def test_bad_files(tmp_path, content, problem):
    path = tmp_path / "model.tflite"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError) as err:
        load_graph(path)
    assert problem in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_directory_is_rejected(tmp_path):
    with pytest.raises(ModelError, match="is a directory"):
        load_graph(tmp_path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_model(nb201_bytes, keep):
    data = nb201_bytes[: int(len(nb201_bytes) * keep)]
    with pytest.raises(ModelError, match=r"truncated or corrupted|corrupted model"):
        load_graph(data, "cut.tflite")
