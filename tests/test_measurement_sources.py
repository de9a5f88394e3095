"""Measurements read from where teams have them (bench/measurement_sources.py) and the GPU names
`calibrate --gpu` understands (estimator/devices.py)."""

from __future__ import annotations

import json

import pytest

from pytest_tflite_latency.bench.measurement_sources import read_measurements, resolve_models
from pytest_tflite_latency.estimator.defaults import GPU_ALIASES
from pytest_tflite_latency.estimator.devices import PHONES, gpu_family, nearest_phones
from pytest_tflite_latency.estimator.inputs import InputError

# Two runs pasted from a phone: the first prints tsl::Stat with a spread, the second the
# "(all same)" form benchmark_model prints when every run took the same time.
LOG = """STARTING!
Log parameter values verbosely: [0]
Graph: [/data/local/tmp/mobilenet_v2.tflite]
Use gpu: [1]
Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=13011 curr=12345 min=12001 max=13500 avg=12500.5 std=210
Inference timings in us: Init: 120000, First inference: 30000, Warmup (avg): 13000, Inference (avg): 12500.5
STARTING!
Graph: [resnet18.tflite]
count=1 curr=41000(all same)
Inference timings in us: Init: 120000, First inference: 45000, Warmup (avg): 41000, Inference (avg): 41000
"""


def test_a_benchmark_model_log_of_two_runs_gives_each_models_mean_in_ms(tmp_path):
    path = tmp_path / "runs.txt"
    path.write_text(LOG)
    first, second = read_measurements(path)
    assert (first.model, second.model) == ("/data/local/tmp/mobilenet_v2.tflite", "resnet18.tflite")
    assert first.mean_ms == pytest.approx(12.5005) and first.std_ms == pytest.approx(0.210)
    assert second.mean_ms == pytest.approx(41.0)
    assert first.runtime == "benchmark_model (gpu)"


def test_an_ai_hub_profile_gives_the_inference_time_in_ms_and_its_layers(tmp_path):
    path = tmp_path / "mobilenet_v2.json"
    path.write_text(json.dumps({"execution_summary": {"estimated_inference_time": 2310},
                                "execution_detail": [{"name": "conv", "execution_time": 500},
                                                     {"name": "fc", "execution_time": 40}]}))
    (m,) = read_measurements(path)
    assert (m.model, m.runtime) == ("mobilenet_v2", "Qualcomm AI Hub profile")
    assert m.mean_ms == pytest.approx(2.31) and m.layers_ms == pytest.approx((0.5, 0.04))


def test_a_csv_needs_model_and_ms_and_reads_the_optional_columns(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("model,ms,std,runtime\na.tflite,3.5,0.2,tflite 2.16 gpu\nb,7,,\n")
    a, b = read_measurements(path)
    assert (a.model, a.mean_ms, a.std_ms, a.runtime) == ("a.tflite", 3.5, 0.2, "tflite 2.16 gpu")
    assert (b.model, b.mean_ms, b.std_ms) == ("b", 7.0, None)
    path.write_text("name,latency\na,3\n")
    with pytest.raises(InputError, match="model,ms"):
        read_measurements(path)


def test_a_csv_row_split_by_a_decimal_comma_is_refused_not_read_as_a_whole_number(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("model,ms\nmobilenet_w1,4,9\n")
    with pytest.raises(InputError, match=r"m\.csv:2: 3 fields for the header's 2 \(model,ms\): a decimal comma\?"):
        read_measurements(path)


def test_a_negative_or_non_finite_latency_names_its_row(tmp_path):
    path = tmp_path / "m.csv"
    for bad in ("-3", "nan", "inf"):
        path.write_text(f"model,ms\na,2\nb,{bad}\n")
        with pytest.raises(InputError, match=r"m\.csv:3: ms"):
            read_measurements(path)


def test_the_on_device_records_json_is_read_with_phone_and_gpu(tmp_path):
    path = tmp_path / "on-device.json"
    path.write_text(json.dumps({"format": "tflite-latency-measurements/1", "measurements": [
        {"model": "models/a.tflite", "model_sha256": "00", "phone": "Pixel 8", "serial": "x", "gpu": "Mali-G715",
         "runtime": "benchmark_model 2.16", "delegate": "gpu", "delegate_options": {}, "device": "pixel4-gpu",
         "mean_ms": 4.25, "std_ms": 0.1, "count": 50, "estimate_ms": 4.0, "interval_ms": [3.5, 4.5]}]}))
    (m,) = read_measurements(path)
    assert (m.model, m.mean_ms, m.phone, m.gpu) == ("models/a.tflite", 4.25, "Pixel 8", "Mali-G715")


def test_unknown_json_and_binary_files_are_refused_in_one_line(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"foo": 1}')
    with pytest.raises(InputError, match="neither the on-device measurements"):
        read_measurements(path)
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(InputError, match="not text"):
        read_measurements(path)


def test_models_are_found_by_name_in_the_folders_given_and_a_missing_one_is_named(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "mobilenet_v2.tflite").write_bytes(b"x")
    path = tmp_path / "runs.txt"
    path.write_text(LOG)
    found = read_measurements(path)
    with pytest.raises(InputError, match=r"'resnet18\.tflite' not found"):
        resolve_models(found, [models])
    by_file = resolve_models(found[:1], [models])
    assert list(by_file) == [(models / "mobilenet_v2.tflite").resolve()]


@pytest.mark.parametrize(("text", "vendor", "generation"), [
    ("adreno750", "qualcomm", 7), ("Mali-G715", "arm", 7), ("apple-a17", "apple", 17), ("powervr", "imagination", None),
    ("powervr-ge8320", "imagination", None), ("mali", "arm", None), ("auto", None, None),
    # as `pytest --on-device` records them, from the phone's GL renderer
    ("Adreno (TM) 740", "qualcomm", 7), ("PowerVR Rogue GE8320", "imagination", None),
    ("Mali-G715-Immortalis MC11", "arm", 7), ("ANGLE (Samsung Xclipse 920) on Vulkan 1.3.231", "arm", 9)])
def test_gpu_family_reads_vendor_and_generation(text, vendor, generation):
    f = gpu_family(text)
    assert (f.vendor, f.generation) == (vendor, generation)


@pytest.mark.parametrize(("text", "nearest"), [
    ("apple-a10", {"a03s", "iphone7"}), ("apple-a9", {"a03s", "iphone7"}), ("powervr-bxm", {"a03s", "iphone7"}),
    ("apple-a17", {"iphonexs"}), ("apple", {"iphonexs"}), ("adreno750", {"pixel4", "mi8se"}),
    ("mali-g715", {"s10"}), ("auto", {p.key for p in PHONES})])
def test_calibration_starts_from_the_phones_of_the_gpus_architecture(text, nearest):
    assert {p.key for p in nearest_phones(gpu_family(text), PHONES)} == nearest


def test_a_gpu_whose_architecture_no_other_phone_shares_falls_back_to_its_vendor():
    iphone7 = next(p for p in PHONES if p.key == "iphone7")
    others = [p for p in PHONES if p.key not in ("iphone7", "a03s")]
    assert [p.key for p in nearest_phones(iphone7.family, others)] == ["iphonexs"]


def test_an_unknown_gpu_is_refused_with_the_names_understood():
    with pytest.raises(ValueError, match="adreno750, mali-g715"):
        gpu_family("geforce-rtx")


def test_every_gpu_alias_comes_from_the_device_table():
    assert {a: p.profile for p in PHONES for a in p.aliases} == GPU_ALIASES
    assert all(gpu_family(a).vendor == p.vendor for p in PHONES for a in p.aliases)


def test_a_log_from_before_tensorflow_2_4_is_read_by_its_average_inference_line(tmp_path):
    path = tmp_path / "old.txt"
    path.write_text("STARTING!\nGraph: [m.tflite]\nUse gpu: [1]\n"
                    "Average inference timings in us: Warmup: 13456.7, Init: 1153420, Inference: 11703.2\n")
    (m,) = read_measurements(path)
    assert m.mean_ms == pytest.approx(11.7032) and m.delegate == "gpu"


def test_a_run_that_failed_is_named_with_its_model_and_first_error_not_called_no_log(tmp_path):
    path = tmp_path / "farm.log"
    failed = ("STARTING!\nGraph: [/data/local/tmp/resnet18.tflite]\nUse gpu: [1]\n"
              "ERROR: TfLiteGpuDelegate Init: No shader implementation for transpose\n"
              "ERROR: Failed to apply GPU delegate.\nERROR: Benchmarking failed.\n")
    path.write_text(LOG + failed)
    with pytest.raises(InputError) as err:
        read_measurements(path)
    assert "run 3: benchmark_model failed on /data/local/tmp/resnet18.tflite (ERROR: TfLiteGpuDelegate Init: No " \
           "shader implementation for transpose)" in str(err.value)


@pytest.mark.parametrize(("line", "precision"), [("Allow lower precision in gpu: [0]", "fp32"),
                                                 ("Allow lower precision in gpu: [1]", "fp16"), ("", "")])
def test_a_gpu_runs_precision_setting_is_read_where_the_log_states_it(tmp_path, line, precision):
    path = tmp_path / "run.txt"
    path.write_text(LOG.split("STARTING!\nGraph: [resnet18")[0].replace("Use gpu: [1]\n", f"Use gpu: [1]\n{line}\n"))
    (m,) = read_measurements(path)
    assert m.precision == precision
    assert m.runtime == (f"benchmark_model (gpu, {precision})" if precision else "benchmark_model (gpu)")


def test_a_run_of_another_delegate_is_named_as_that_delegate_not_as_the_gpu(tmp_path):
    path = tmp_path / "run.txt"
    path.write_text(LOG.split("STARTING!\nGraph: [resnet18")[0].replace("Use gpu: [1]", "Use nnapi: [1]"))
    (m,) = read_measurements(path)
    assert (m.delegate, m.delegate_inferred) == ("nnapi", False)


@pytest.mark.parametrize(("units", "delegate"), [(["GPU", "GPU", "CPU"], "gpu"), (["NPU", "NPU"], "npu"),
                                                 (["CPU"], "cpu"), ([], "")])
def test_an_ai_hub_jobs_compute_units_say_which_delegate_ran_it(tmp_path, units, delegate):
    path = tmp_path / "mobilenet_v2.json"
    path.write_text(json.dumps({"execution_summary": {"estimated_inference_time": 4200},
                                "execution_detail": [{"execution_time": 10, "compute_unit": u} for u in units]}))
    (m,) = read_measurements(path)
    assert m.delegate == delegate


def test_a_model_name_that_matches_two_different_files_is_refused_naming_both(tmp_path):
    for folder, content in (("a", b"one"), ("b", b"two"), ("c", b"one")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "net.tflite").write_bytes(content)
    path = tmp_path / "m.csv"
    path.write_text("model,ms\nnet,3.0\n")
    found = read_measurements(path)
    assert resolve_models(found, [tmp_path / "a", tmp_path / "c"])  # the same bytes twice: one model
    with pytest.raises(InputError) as err:
        resolve_models(found, [tmp_path / "a", tmp_path / "b"])
    assert "matches 2 different files" in str(err.value) and "a/net.tflite" in str(err.value)


@pytest.mark.parametrize("said", ["Apple A17 Pro GPU", "Qualcomm Adreno 750", "Apple A12 Bionic GPU"])
def test_a_gpu_as_metal_or_the_vendor_names_it_is_understood(said):
    family = gpu_family(said)
    assert family.vendor in ("apple", "qualcomm") and family.generation in (17, 7, 12)
