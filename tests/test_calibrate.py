"""`tflite-latency calibrate`: a profile for a new phone from a few whole-model measurements."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from pytest_tflite_latency import cli
from pytest_tflite_latency.bench import calibrate, zoo
from pytest_tflite_latency.bench.dataset import Record, model_features
from pytest_tflite_latency.bench.train import predict
from pytest_tflite_latency.estimator.profile import load_profile

ARCHS = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
         "|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|",
         "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_3x3~2|",
         "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
         "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
         "|nor_conv_1x1~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|skip_connect~1|nor_conv_1x1~2|",
         "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|nor_conv_1x1~0|nor_conv_3x3~1|avg_pool_3x3~2|")
SOURCE = "pixel4-gpu"
SPEED = 2.0  # the "new phone" in these tests runs every model this much slower than the source predicts


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for i, arch in enumerate(ARCHS):
        data = zoo.build("nasbench201", arch=arch, fill="zeros")
        (folder / f"net{i}.tflite").write_bytes(data)
        out[str(folder / f"net{i}.tflite")] = data
    return out


def _records(models: dict[str, bytes], factor: np.ndarray | float = SPEED) -> list[Record]:
    source = load_profile(SOURCE)
    records = [Record(p, *model_features(d, "gpu")[:1], 1.0, model_features(d, "gpu")[1]) for p, d in models.items()]
    y = predict(records, source) * factor
    return [Record(r.name, r.X, float(v), r.learned) for r, v in zip(records, y, strict=True)]


DISPATCH_MS = 0.05  # what each kernel costs the tests' "phone" beyond its lone GPU time


def _dispatching_phone(models: dict[str, bytes]) -> tuple[list[Record], list[Record]]:
    """Kernel records (each GPU kernel alone, as the source prices it) and whole models that take their
    kernels' sum plus 1 ms per inference plus `DISPATCH_MS` per kernel."""
    from pytest_tflite_latency.estimator.predict import kernel_ms

    source = load_profile(SOURCE)
    kernels, networks = [], []
    for p, d in models.items():
        X, learned = model_features(d, "gpu")
        ms = kernel_ms(source, X, np.where(learned, "GPU", "CPU"))[0]
        kernels += [Record(f"{p}:{i}", X[[i]], float(ms[i]), np.array([True]), "kernel")
                    for i in np.flatnonzero(learned)]
        networks.append(Record(p, X, float(ms[learned].sum() + 1.0 + DISPATCH_MS * learned.sum()), learned))
    return kernels, networks


def test_whole_models_longer_than_their_kernels_by_a_cost_per_kernel_teach_the_profile_that_cost(models):
    from pytest_tflite_latency.bench import train

    kernels, networks = _dispatching_phone(models)
    counts = [int(r.learned.sum()) for r in networks]
    assert max(counts) > min(counts), "the models must differ in kernel count for the cost to be told apart"
    f = train.fit_stock(kernels, networks)
    assert f.context["ms_per_kernel"] == pytest.approx(DISPATCH_MS, rel=0.25), f.context
    y = np.array([r.y_ms for r in networks])
    served = predict(networks, f.profile("gpu"))
    assert served == pytest.approx(y, rel=0.03), f"largest relative difference {np.max(np.abs(served / y - 1)):.3f}"


@pytest.mark.parametrize("with_dispatch", [False, True], ids=["source-without-dispatch", "source-with-dispatch"])
def test_the_served_profile_predicts_what_the_calibration_fitted(models, with_dispatch):
    import dataclasses

    from pytest_tflite_latency.estimator.profile import NetworkContext

    records = _records(models)
    source = load_profile(SOURCE)
    if with_dispatch:  # a source whose kernels cost a dispatch each: calibrate scales it with the overhead
        source = dataclasses.replace(source, context=NetworkContext(0.0, DISPATCH_MS))
    result = calibrate.calibrate_from([source], records[:5], "new-phone")
    served = predict(records, result.profile)
    c = np.array(list(result.profile.provenance["calibration"]["scales"].values()))
    fitted = calibrate.parts(source, records) @ c
    assert served == pytest.approx(fitted, rel=1e-4)  # the provenance rounds the scales to 4 decimals


def _with_cpu_fallback(width: int) -> Record:
    """A model the GPU delegate splits: a custom op leaves its last convolutions on the CPU, with copies."""
    from pytest_tflite_latency.bench.writer import ModelWriter

    m = ModelWriter(fill="zeros")
    x = m.conv2d(m.input((1, 32, 32, width)), width, 3)
    (x,) = m.op("CUSTOM:Postprocess", [x], [(1, 32, 32, width)])
    X, learned = model_features(m.to_bytes([m.conv2d(m.conv2d(x, width, 3), width, 1)]), "gpu")
    return Record(f"fallback{width}", X, 0.0, learned)


def test_a_model_partly_on_the_cpu_is_served_as_the_calibration_fitted_it(models):
    from pytest_tflite_latency.bench.dataset import runs_on

    fallback = [_with_cpu_fallback(w) for w in (8, 16, 32)]
    assert all((runs_on(r, "gpu") == "CPU").any() and (runs_on(r, "gpu") == "copy").any() for r in fallback)
    source = load_profile(SOURCE)
    # the phone runs its CPU part 3× faster than the source's CPU prior says, its GPU part 2× slower
    fallback = [Record(r.name, r.X, float(calibrate.parts(source, [r])[0] @ [2, 2, 2, 1 / 3, 2]), r.learned)
                for r in fallback]
    records = _records(models)[:4] + fallback
    result = calibrate.calibrate_from([source], records, "new-phone")
    c = np.array(list(result.profile.provenance["calibration"]["scales"].values()))
    fitted, served = calibrate.parts(source, records) @ c, predict(records, result.profile)
    assert served == pytest.approx(fitted, rel=1e-4), f"largest difference {np.max(np.abs(served / fitted - 1)):.2e}"
    one = calibrate.calibrate_from([source], fallback[-1:], "new-phone").profile  # one model: served as measured
    assert predict(fallback[-1:], one) == pytest.approx([fallback[-1].y_ms], rel=1e-4)


def test_a_uniformly_slower_phone_is_recovered_on_models_not_measured(models):
    records = _records(models)
    profile = calibrate.calibrate(load_profile(SOURCE), records[:5], "new-phone")
    y = np.array([r.y_ms for r in records[5:]])
    assert predict(records[5:], profile) == pytest.approx(y, rel=0.05)


def test_too_few_measurements_state_no_error_figure(models):
    result = calibrate.calibrate_from([load_profile(SOURCE)], _records(models)[:2], "new-phone")
    heldout = result.profile.provenance["heldout"]
    assert heldout["mape_pct"] is None and heldout["within_10pct"] is None
    assert "too few" in heldout["note"] and result.warnings


def test_inconsistent_measurements_are_flagged(models):
    factors = np.array([0.25, 4.0, 1.0, 0.3, 3.5, 1.2, 0.2])
    result = calibrate.calibrate_from([load_profile(SOURCE)], _records(models, factors), "new-phone")
    assert "inconsistent" in result.profile.provenance["heldout"]["note"]
    assert any("inconsistent" in w for w in result.warnings)


def test_the_interval_widens_with_the_calibrations_own_leave_one_out_spread(models):
    records = _records(models)
    consistent = calibrate.calibrate_from([load_profile(SOURCE)], records, "new-phone").profile.interval
    noisy = _records(models, SPEED * np.array([0.8, 1.25, 1.0, 0.85, 1.2, 1.1, 0.9]))
    scattered = calibrate.calibrate_from([load_profile(SOURCE)], noisy, "new-phone").profile.interval
    assert scattered.low < consistent.low < 0 < consistent.high < scattered.high


def test_agreeing_measurements_never_shrink_the_interval_below_the_floor_of_the_population_spread():
    from pytest_tflite_latency.bench.calibration_priors import INTERVALS

    z_low, z_high, sigma = INTERVALS[10]
    low, high = calibrate.interval_for(10, np.zeros(10))
    floor = calibrate.SPREAD_FLOOR * sigma
    assert (low, high) == pytest.approx((np.expm1(z_low * floor), np.expm1(z_high * floor)), rel=1e-9)
    assert calibrate.interval_for(10) == pytest.approx((np.expm1(z_low * sigma), np.expm1(z_high * sigma)), rel=1e-9)


def test_too_few_measurements_take_the_population_spread_for_the_interval():
    from pytest_tflite_latency.bench.calibration_priors import INTERVALS

    z_low, z_high, sigma = INTERVALS[1]
    assert calibrate.interval_for(2, np.array([0.5, -0.5])) == pytest.approx(
        (np.expm1(z_low * sigma), np.expm1(z_high * sigma)), rel=1e-9)


def test_calibrate_from_a_csv_writes_a_profile_that_estimates(models, tmp_path, capsys):
    records = _records(models)
    csv = tmp_path / "measured.csv"
    csv.write_text("model,ms\n" + "".join(f"{r.name.split('/')[-1]},{r.y_ms}\n" for r in records[:6]))
    folder = str(next(iter(models))).rsplit("/", 1)[0]
    out = tmp_path / "phone.json"
    assert cli.main(["calibrate", str(csv), "--models", folder, "--gpu", "adreno640", "--name", "phone-gpu",
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "leave-one-out over the 6 models" in printed
    assert ("(what Google Pixel 4, Xiaomi Mi 8 SE reached, calibrated on 3 models, the nearest N at or below your 6 "
            "from the bundled phone nearest each one's GPU, as yours is; the six phones' median") in printed
    profile = json.loads(out.read_text())
    cal = profile["provenance"]["calibration"]
    assert cal["models"] == 6 and cal["gpu"] == "adreno640"
    assert set(cal["expected"]["analogue_phones"]) == {"Google Pixel 4", "Xiaomi Mi 8 SE"}
    assert set(cal["sources_considered"]) == {"pixel4-gpu", "mi8se-gpu"}  # the Adreno phones
    assert {"method", "models", "mape_pct", "within_10pct", "within_25pct",
            "interval_coverage_pct"} <= set(profile["provenance"]["heldout"])
    assert cli.main(["estimate", records[6].name, "--device", str(out), "--format", "json"]) == 0
    estimate = json.loads(capsys.readouterr().out)["total_ms"]
    assert estimate == pytest.approx(records[6].y_ms, rel=0.15)


def test_a_calibrated_profile_names_the_phone_measured_not_its_source(models):
    from pytest_tflite_latency.estimator.devices import gpu_family

    source = load_profile("iphonexs-gpu")
    result = calibrate.calibrate_from([source], _records(models)[:5], "pixel8-gpu", gpu_family("mali-g715"), "Pixel 8")
    device = result.profile.device
    assert (device.phone, device.gpu, device.api) == ("Pixel 8", "mali-g715", None)
    assert device.compute_precision == source.device.compute_precision  # the runtime setting it inherits


def test_suggest_lists_the_models_asked_for(models, capsys):
    folder = str(next(iter(models))).rsplit("/", 1)[0]
    assert cli.main(["calibrate", "--suggest", "3", "--models", folder]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and len({ln.split()[1] for ln in lines}) == 3
    given = len(list(Path(folder).glob("*.tflite")))
    stands_for = [int(re.search(rf"stands for (\d+) of the {given} models", ln).group(1)) for ln in lines]
    assert sum(stands_for) == given and min(stands_for) >= 1  # every model given is nearest one listed


def test_suggest_never_lists_a_copy_of_a_model_it_listed(models, tmp_path, capsys):
    for path, data in list(models.items())[:3]:
        (tmp_path / Path(path).name).write_bytes(data)
        (tmp_path / f"copy_of_{Path(path).name}").write_bytes(data)
    assert cli.main(["calibrate", "--suggest", "5", "--models", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    listed = [Path(ln.split()[1]).name.removeprefix("copy_of_") for ln in out.splitlines()]
    assert len(listed) == 3 and len(set(listed)) == 3
    assert "only 3 of the 6 models differ in their kernels" in err


def test_suggest_skips_an_unreadable_model_and_names_it(models, tmp_path, capsys):
    for path in models:
        (tmp_path / Path(path).name).symlink_to(path)
    (tmp_path / "broken.tflite").write_bytes(b"xx")
    assert cli.main(["calibrate", "--suggest", "2", "--models", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2 and "broken.tflite" not in out
    assert "skipped: " in err and "broken.tflite" in err


def test_suggest_with_measurements_given_is_refused_not_silently_ignoring_them(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path)
    assert cli.main(["calibrate", str(csv), "--suggest", "3", "--models", folder]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--suggest" in err and str(csv) in err


def test_suggest_asked_for_more_than_there_are_lists_all_and_says_so(models, capsys):
    folder = str(Path(next(iter(models))).parent)
    assert cli.main(["calibrate", "--suggest", "50", "--models", folder]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == len(models) and f"all {len(models)} models given are listed" in err


def test_an_unknown_gpu_is_a_one_line_error(capsys):
    assert cli.main(["calibrate", "x.csv", "--gpu", "geforce"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--gpu" in err


def test_a_model_the_measurements_name_but_nobody_gave_is_named(tmp_path, capsys):
    csv = tmp_path / "m.csv"
    csv.write_text("model,ms\nmissing_net,3\n")
    assert cli.main(["calibrate", str(csv)]) == 2
    assert "'missing_net' not found" in capsys.readouterr().err


def _csv(models, tmp_path, name: str = "measured.csv", factor: float = SPEED, count: int = 5) -> tuple[Path, str]:
    """A CSV of ``count`` models' latencies on the test phone, and the folder of the models."""
    csv = tmp_path / name
    csv.write_text("model,ms\n" + "".join(f"{Path(r.name).stem},{r.y_ms}\n"
                                          for r in _records(models, factor)[:count]))
    return csv, str(Path(next(iter(models))).parent)


def test_a_models_folder_that_does_not_exist_is_named_not_blamed_on_the_csv(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path)
    assert cli.main(["calibrate", str(csv), "--models", str(tmp_path / "nodir"), folder]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--models" in err and "nodir: no such file or folder" in err


def test_a_model_not_in_the_models_folder_says_where_it_was_looked_for(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path)
    csv.write_text(csv.read_text() + "nosuchnet,3\n")
    assert cli.main(["calibrate", str(csv), "--models", folder]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no nosuchnet.tflite in --models " + folder in err


def test_an_out_that_is_not_a_json_file_is_refused_and_never_written_over(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path)
    model = tmp_path / "model.tflite"
    model.write_bytes(b"TFL3 stands in for a model")
    assert cli.main(["calibrate", str(csv), "--models", folder, "--out", str(model)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and ".json" in err
    assert model.read_bytes() == b"TFL3 stands in for a model"


def test_an_out_folder_receives_the_profile_under_its_name(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path)
    (tmp_path / "profiles").mkdir()
    assert cli.main(["calibrate", str(csv), "--models", folder, "--name", "pixel8-gpu",
                     "--out", str(tmp_path / "profiles")]) == 0
    assert load_profile(tmp_path / "profiles" / "pixel8-gpu.json").name == "pixel8-gpu"
    assert f"--device {tmp_path / 'profiles' / 'pixel8-gpu.json'}" in capsys.readouterr().out
    assert cli.main(["calibrate", str(csv), "--models", folder, "--name", "pixel9-gpu",
                     "--out", f"{tmp_path / 'new'}/"]) == 0  # a folder still to make
    assert load_profile(tmp_path / "new" / "pixel9-gpu.json").name == "pixel9-gpu"


def test_a_name_that_is_a_path_is_refused_before_anything_is_written(models, tmp_path, capsys, monkeypatch):
    csv, folder = _csv(models, tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["calibrate", str(csv), "--models", folder, "--name", "a/../b"]) == 2
    assert "--name" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.json"))


def test_one_measurement_says_it_cannot_choose_among_the_starting_points(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path, count=1)
    assert cli.main(["calibrate", str(csv), "--models", folder, "--gpu", "adreno", "--out",
                     str(tmp_path / "p.json")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "one measurement fits each alike" in first and "fit best" not in first


def test_a_database_device_name_bench_run_took_is_not_refused_as_a_profile_name(tmp_path, capsys):
    out = str(tmp_path / "p.json")
    assert cli.main(["calibrate", "--db", str(tmp_path / "none.sqlite"), "--device-name", "Pixel 8", "--out", out]) == 2
    assert "no such measurement database" in capsys.readouterr().err  # got past the name
    assert cli.main(["calibrate", "--db", str(tmp_path / "none.sqlite"), "--device-name", "../p8", "--out", out]) == 2
    assert "--name" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["pixel4-gpu", "adreno640", "Pixel4-GPU"])
def test_a_name_a_bundled_profile_or_gpu_has_is_refused(models, tmp_path, capsys, name):
    csv, folder = _csv(models, tmp_path)
    assert cli.main(["calibrate", str(csv), "--models", folder, "--name", name, "--out", str(tmp_path)]) == 2
    assert f"--name: {name} is a bundled profile's or GPU's name" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.json"))


def test_one_models_measurements_from_two_phones_are_named_not_silently_averaged(models, tmp_path, capsys):
    here, folder = _csv(models, tmp_path, "phone.csv", count=6)
    other, _ = _csv(models, tmp_path, "other-phone.csv", factor=2 * SPEED, count=1)
    assert cli.main(["calibrate", str(here), str(other), "--models", folder, "--out", str(tmp_path / "p.json")]) == 0
    warnings = [ln for ln in capsys.readouterr().out.splitlines() if "warning:" in ln]
    assert len(warnings) == 1 and "phone.csv:2" in warnings[0] and "other-phone.csv:2" in warnings[0]
    assert "100% apart" in warnings[0] and "Left out of the calibration" in warnings[0]
    assert load_profile(tmp_path / "p.json").provenance["calibration"]["models"] == 5  # the 6 less the one


def test_the_profile_states_the_runtime_measured_and_the_interval_it_prints(models, tmp_path, capsys):
    csv = tmp_path / "measured.csv"
    csv.write_text("model,ms,std,runtime\n" + "".join(f"{Path(r.name).stem},{r.y_ms},,LiteRT 1.4\n"
                                                      for r in _records(models)[:5]))
    out = tmp_path / "p.json"
    folder = str(Path(next(iter(models))).parent)
    assert cli.main(["calibrate", str(csv), "--models", folder, "--gpu", "powervr", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    profile = load_profile(out)
    source = load_profile(profile.provenance["calibrated_from"])
    assert profile.runtime == f"LiteRT 1.4 as measured; kernels from {source.name} ({source.runtime})"
    low, high = profile.interval.low, profile.interval.high
    assert f"{profile.interval.coverage:.0%} interval: {low:+.0%} … {high:+.0%} of the estimate" in printed


@pytest.mark.parametrize("source", ["pixel4-cpu", "nnmeter-cortexa76"])
def test_from_a_cpu_profile_is_refused_before_the_measurements_are_read(source, capsys):
    assert cli.main(["calibrate", "never-read.csv", "--from", source]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--from: {source} is not a GPU profile" in err and "pixel4-gpu" in err


def test_from_an_unknown_profile_is_one_line_naming_the_option(capsys):
    assert cli.main(["calibrate", "never-read.csv", "--from", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tflite-latency: error: --from: no profile 'nosuch'")


def _on_device(models, tmp_path, gpu: str, delegates: tuple[str, ...] = ("gpu",) * 5) -> Path:
    """The measurements JSON `pytest --on-device` writes, of five models on one phone."""
    measured = zip(_records(models)[:5], delegates, strict=True)
    rows = [{"model": r.name, "phone": "Phone X", "gpu": gpu, "runtime": "benchmark_model", "delegate": d,
             "mean_ms": r.y_ms, "std_ms": 0.01, "count": 50} for r, d in measured]
    path = tmp_path / "measurements.json"
    path.write_text(json.dumps({"format": "tflite-latency-measurements/1", "measurements": rows}))
    return path


def test_gpu_auto_starts_from_the_gpu_the_on_device_records_name(models, tmp_path, capsys):
    out = tmp_path / "p.json"
    assert cli.main(["calibrate", str(_on_device(models, tmp_path, "Mali-G76 MP12")), "--out", str(out)]) == 0
    assert "nearest the Mali-G76 MP12 the measurements name" in capsys.readouterr().out
    calibration = load_profile(out).provenance["calibration"]
    assert calibration["sources_considered"] == ["galaxys10-gpu"] and calibration["phone"] == "Phone X"


def test_an_on_device_record_of_the_cpu_is_skipped_and_said_so_not_mixed_into_the_gpu_profile(models, tmp_path,
                                                                                                capsys):
    path = _on_device(models, tmp_path, "Adreno (TM) 640", ("cpu",) + ("gpu",) * 4)
    out = tmp_path / "p.json"
    assert cli.main(["calibrate", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped: 1 measurement not of the GPU delegate (cpu: " in err
    assert "measurements[0]" in err and "measurements[1]" not in err
    assert load_profile(out).provenance["calibration"]["models"] == 4  # the GPU's four, not the CPU's one


def test_on_device_records_of_the_cpu_only_are_a_one_line_error(models, tmp_path, capsys):
    path = _on_device(models, tmp_path, "Adreno (TM) 640", ("cpu",) * 5)
    assert cli.main(["calibrate", str(path), "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no measurement given ran the GPU delegate (cpu: " in err
    assert not (tmp_path / "p.json").exists()


def test_a_csv_saved_by_excel_with_a_byte_order_mark_is_read(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path)
    csv.write_bytes(b"\xef\xbb\xbf" + csv.read_text().replace("\n", "\r\n").encode())
    assert cli.main(["calibrate", str(csv), "--models", folder, "--out", str(tmp_path / "p.json")]) == 0
    assert "on 5 measured models" in capsys.readouterr().out


def test_times_given_in_seconds_are_warned_of(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path, factor=SPEED / 1000)
    assert cli.main(["calibrate", str(csv), "--models", folder, "--gpu", "adreno640",
                     "--out", str(tmp_path / "p.json")]) == 0
    assert "were the times given in seconds?" in capsys.readouterr().out


def test_times_in_microseconds_that_make_a_profile_no_command_would_load_are_refused_not_written(
        models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path, factor=1000 * SPEED)
    assert cli.main(["calibrate", str(csv), "--models", folder, "--gpu", "adreno640",
                     "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "would not load" in err and "are the times in milliseconds?" in err
    assert not (tmp_path / "p.json").exists()


def test_a_phone_at_the_source_phones_speed_gets_no_unit_warning(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path)
    assert cli.main(["calibrate", str(csv), "--models", folder, "--gpu", "adreno640",
                     "--out", str(tmp_path / "p.json")]) == 0
    assert "were the times given" not in capsys.readouterr().out


def test_a_folder_of_logs_given_as_measurements_says_to_name_its_files(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    assert cli.main(["calibrate", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder" in err and str(tmp_path / "runs" / "*.txt") in err


def test_measurements_swallowed_by_models_are_named_with_where_to_put_them(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path)
    assert cli.main(["calibrate", "--models", folder, str(csv)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--models took {csv} as models" in err and "before --models" in err


def test_the_phone_named_is_the_profiles_phone_in_devices(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path)
    out = tmp_path / "pixel8-gpu.json"
    assert cli.main(["calibrate", str(csv), "--models", folder, "--phone", "Pixel 8", "--gpu", "mali-g715",
                     "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["devices", "--profiles", str(out), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)[-1]
    assert (listed["phone"], listed["gpu"]) == ("Pixel 8", "mali-g715")


def test_a_failed_profile_write_leaves_no_temporary_file(tmp_path):
    from pytest_tflite_latency.bench.export import save_profile
    from pytest_tflite_latency.estimator.errors import EstimatorError

    out = tmp_path / "taken.json"
    out.mkdir()  # a folder where the profile should go: the final rename fails
    with pytest.raises(EstimatorError, match="cannot write"):
        save_profile(load_profile(SOURCE), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.json"]


# --- kernel-level calibration ----------------------------------------------------------------------

GROUP_SPEED = {"conv": 2.0, "dwconv": 3.0}  # the new phone against the source, per kernel group; others 1.5


def _phone_ms(source, X: np.ndarray) -> float:
    """What the new phone takes: the source's kernels, each slowed by its group's factor."""
    from pytest_tflite_latency.estimator.features import kinds_of
    from pytest_tflite_latency.estimator.predict import kernel_ms

    ms = kernel_ms(source, X, np.full(len(X), "GPU"))[0]
    return float(sum(t * GROUP_SPEED.get(k, 1.5) for t, k in zip(ms, kinds_of(X), strict=True)))


def _store(database, device_id: int, data: bytes, kind: str, name: str, ms: float) -> None:
    import hashlib

    from pytest_tflite_latency.bench.measure import features_both
    from pytest_tflite_latency.measurement import Measurement

    model_id = database.model(hashlib.sha256(data).hexdigest(), kind, kind, {}, name, features_both(data))
    database.record(device_id, model_id, Measurement(ms, 0.01 * ms, 10, (ms,) * 10))


@pytest.fixture(scope="module")
def kernel_db(models, tmp_path_factory) -> Path:
    """A database of a new phone: single-kernel models of the bench's small grid and five whole models,
    each measured as the phone's per-group speeds say."""
    from pytest_tflite_latency.bench import sampling
    from pytest_tflite_latency.bench.db import Database

    source = load_profile(SOURCE)
    path = tmp_path_factory.mktemp("kernels") / "phone.sqlite"
    with Database(path) as database:
        device = database.device("phone-gpu", "adb", "gpu", "TFLite GPU delegate", "2.16")
        for c in sampling.grid(("conv", "dwconv", "pool", "elementwise"), "small"):
            data = c.build()
            _store(database, device, data, "kernel", c.key, _phone_ms(source, model_features(data, "gpu")[0]))
        for p, data in list(models.items())[:5]:
            X, _ = model_features(data, "gpu")
            _store(database, device, data, "model", Path(p).name, _phone_ms(source, X) + source.overhead_ms)
    return path


@pytest.fixture(scope="module")
def kernel_profile(kernel_db, tmp_path_factory) -> tuple[Path, str]:
    """`tflite-latency calibrate` on the kernel database: the profile it wrote and what it printed."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("kernel-profile") / "phone.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(["calibrate", "--db", str(kernel_db), "--device-name", "phone-gpu", "--gpu", "adreno",
                         "--out", str(out)]) == 0
    return out, printed.getvalue()


def test_kernel_calibration_from_a_database_predicts_unmeasured_models(models, kernel_profile, capsys):
    from pytest_tflite_latency.bench.kernel_calibration import CANDIDATES, LOO_ROUTES
    from pytest_tflite_latency.bench.kernel_calibration_priors import NESTED_WITHIN_10PCT, SERVED

    out, printed = kernel_profile
    assert "single-kernel and 5 whole-model measurements" in printed
    nested = NESTED_WITHIN_10PCT  # the measured figures of the Adreno phones, then of all six
    assert (f"expected on unseen models: Google Pixel 4 {nested['pixel4']:.0f}%, "
            f"Xiaomi Mi 8 SE {nested['mi8se']:.0f}% (the shared phones standing for yours); all six: ") in printed
    profile = json.loads(out.read_text())
    cal = profile["provenance"]["calibration"]
    assert cal["models"] == 5 and cal["kernels"] >= 30
    assert set(cal["loo_mape_pct"]) == {"direct", "transfer", "blend", "mean", "models"}  # every route judged
    assert SERVED in CANDIDATES and cal["candidate"] == SERVED  # the candidate the evaluation chose is served
    assert f"by the rule chosen on the six shared phones ({SERVED})" in printed
    if SERVED == "loo":
        assert cal["loo_mape_pct"][cal["route"]] == min(cal["loo_mape_pct"][k] for k in LOO_ROUTES)
    else:
        assert cal["route"] == SERVED
    assert profile["device"] == {"phone": "phone-gpu", "gpu": "adreno", "model_precision": "float32",
                                 "compute_precision": "fp16"}  # not the phone of the source it leans on
    assert profile["runtime"].startswith("GPU delegate as measured")  # not the runtime of the profile it leans on
    source = load_profile(SOURCE)
    for p, data in list(models.items())[5:]:
        assert cli.main(["estimate", p, "--device", str(out), "--format", "json"]) == 0
        estimate = json.loads(capsys.readouterr().out)["total_ms"]
        expected = _phone_ms(source, model_features(data, "gpu")[0]) + source.overhead_ms
        assert estimate == pytest.approx(expected, rel=0.25), f"{Path(p).name}: {estimate:.3f} vs {expected:.3f} ms"


def test_the_kernel_profile_carries_the_interval_learnt_on_the_shared_phones_scaled_by_its_own_spread(
        kernel_profile):
    from pytest_tflite_latency.bench.kernel_calibration_priors import COVERAGE, INTERVAL

    z_low, z_high, sigma = INTERVAL
    profile = load_profile(kernel_profile[0])
    low, high = profile.interval.low, profile.interval.high
    # the stored standardised quantiles, both scaled by one spread: this fit's, never below the floor
    spread = np.log1p(low) / z_low
    assert np.log1p(high) / z_high == pytest.approx(spread, rel=1e-9)
    assert spread >= calibrate.SPREAD_FLOOR * sigma * (1 - 1e-9)
    assert profile.interval.coverage == pytest.approx(COVERAGE, abs=1e-9)
    assert z_low < 0 < z_high and sigma > 0 and 0.5 < COVERAGE < 1
    assert profile.provenance["calibration"]["interval"] == "bench/kernel_calibration_priors.py"


def test_the_served_kernel_profile_predicts_what_the_evaluation_judges(models, kernel_db, kernel_profile):
    """The evaluation (`kernel_calibration.evaluate`) judges `train.predict` of the route's fit; the
    profile `calibrate` writes must give the same estimates on models it never saw."""
    from pytest_tflite_latency.bench.db import Database
    from pytest_tflite_latency.bench.export import device_records
    from pytest_tflite_latency.bench.kernel_calibration import candidates
    from pytest_tflite_latency.estimator.devices import gpu_family

    with Database(kernel_db) as database:
        stored, _ = device_records(database, "phone-gpu")
    kernels = [r for r in stored if r.kind == "kernel"]
    networks = [r for r in stored if r.kind == "model"]
    family = gpu_family("adreno")
    cal, whole = candidates(kernels, networks, calibrate.sources_for(family, "auto"), "phone-gpu", family)
    served = load_profile(kernel_profile[0])
    route = served.provenance["calibration"]["route"]
    evaluated = whole.profile if route == "models" else cal.fits[route].profile("gpu")
    unseen = []
    for p, data in list(models.items())[5:]:
        X, learned = model_features(data, "gpu")
        unseen.append(Record(Path(p).stem, X, 1.0, learned))
    assert predict(unseen, served) == pytest.approx(predict(unseen, evaluated), rel=1e-6)


def test_the_nested_choice_never_looks_at_the_phone_it_is_judged_on(capsys):
    from pytest_tflite_latency.bench.kernel_calibration import (
        CANDIDATES,
        INTERVAL_QUANTILES,
        REFERENCE,
        SPREAD,
        report,
    )

    rng = np.random.default_rng(0)
    phones = ("a", "b", "c")
    spread = {"a": {"direct": 0.6, "transfer": 0.02}, "b": {"direct": 0.05}, "c": {"direct": 0.05}}
    results = {t: {c: [np.expm1(rng.normal(0, spread[t].get(c, 0.3), 400)) for _ in range(2)]
                   for c in (*CANDIDATES, REFERENCE, "own")} for t in phones}  # relative errors, all above −1
    for t in phones:  # each judged model's fit's leave-one-out spread
        results[t].update({SPREAD + c: [rng.uniform(0.01, 0.2, 400) for _ in range(2)] for c in CANDIDATES})
    report(results, priors=True)
    printed = capsys.readouterr().out
    rows = {line.split()[0]: line for line in printed.splitlines() if line.split() and line.split()[0] in phones}
    # over all three phones direct is best (served), but without b (or c) transfer is: a's figure decides
    assert "(transfer)" in rows["b"] and "(transfer)" in rows["c"]
    assert "(  direct)" in rows["a"]  # chosen on b and c, judged on a, where it fails
    module = {}
    exec(printed[printed.index('"""'):], module)  # the priors module, as printed
    assert module["SERVED"] == "direct"
    logs = np.log1p(np.concatenate([e for t in phones for e in results[t]["direct"]]))
    spreads = np.concatenate([e for t in phones for e in results[t][SPREAD + "direct"]])
    sigma = np.sqrt(np.mean(logs**2))
    z = logs / np.maximum(calibrate.SPREAD_FLOOR * sigma, spreads)
    assert module["INTERVAL"] == pytest.approx((*np.quantile(z, INTERVAL_QUANTILES), sigma), abs=1e-4)
    assert set(module["NESTED_WITHIN_10PCT"]) == set(phones)


def test_coverage_picks_distinct_configurations_that_leave_no_part_of_the_range_far():
    from pytest_tflite_latency.bench.kernel_calibration import coverage

    X = np.repeat(np.arange(1, 51, dtype=float)[:, None], 2, axis=0) * np.array([1.0, 10.0])
    picked = coverage(X, 10, seed=3)
    assert len(set(X[picked, 0])) == 10  # no configuration twice
    logs = np.log1p(X[:, 0])
    farthest = np.abs(logs[:, None] - logs[picked][None, :]).min(axis=1).max()
    # greedy k-center is within 2× of the best covering radius, range / (2 · 10) on a line
    assert farthest <= (logs.max() - logs.min()) / 10, f"a configuration {farthest:.3f} (log) from every pick"


def test_a_cpu_measured_device_is_refused_with_the_command_that_trains_its_profile(models, tmp_path, capsys):
    from pytest_tflite_latency.bench.db import Database

    db = tmp_path / "host.sqlite"
    with Database(db) as database:
        device = database.device("hostcpu", "local", "cpu", "LiteRT CPU (1 thread)", "2.3")
        for p, data in list(models.items())[:3]:
            _store(database, device, data, "model", Path(p).name, 3.0)
    out = tmp_path / "hostcpu.json"
    assert cli.main(["calibrate", "--db", str(db), "--device-name", "hostcpu", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "measured on the CPU" in err and "bench export" in err
    assert not out.exists()


def test_a_benchmark_model_log_without_the_gpu_delegate_is_left_out_and_named(models, tmp_path, capsys):
    folder = str(next(iter(models))).rsplit("/", 1)[0]
    logs = []
    for i, r in enumerate(_records(models)[:5]):
        us = r.y_ms * 1000
        gpu = "Use gpu: [1]\n" if i else ""  # the first run timed the CPU
        logs.append(tmp_path / f"run{i}.txt")
        logs[-1].write_text(f"STARTING!\nGraph: [{Path(r.name).name}]\n{gpu}count=50 curr={us:.0f}(all same)\n"
                            f"Inference timings in us: Init: 1, First inference: 1, Warmup (avg): 1, "
                            f"Inference (avg): {us:.1f}\n")
    assert cli.main(["calibrate", *map(str, logs), "--models", folder, "--out", str(tmp_path / "p.json")]) == 0
    err = capsys.readouterr().err
    assert "skipped: 1 measurement not of the GPU delegate (cpu (no Use gpu: [1] line): " in err
    assert "run0.txt" in err and "run1.txt" not in err
    assert load_profile(tmp_path / "p.json").provenance["calibration"]["models"] == 4
    assert cli.main(["calibrate", str(logs[0]), "--models", folder, "--out", str(tmp_path / "q.json")]) == 2
    assert "no measurement given ran the GPU delegate" in capsys.readouterr().err
    assert not (tmp_path / "q.json").exists()


def test_the_ceiling_fit_recovers_exact_scales_and_judges_rows_it_did_not_fit():
    from pytest_tflite_latency.bench.calibration_ceiling import relative_fit

    A = np.array([[1.0, 2.0, 0.5, 1.0], [3.0, 1.0, 0.2, 1.0], [0.5, 0.5, 2.0, 1.0], [2.0, 2.0, 2.0, 1.0],
                  [1.0, 0.1, 0.1, 1.0], [4.0, 3.0, 1.0, 1.0]])
    y = A @ np.array([1.5, 0.8, 2.0, 0.3])
    assert np.abs(relative_fit(A, y)).max() < 1e-9
    y[-1] *= 1.2  # the one row left out of the fit keeps its 1/1.2 − 1 error
    errors = relative_fit(A, y, fit_on=np.arange(len(y)) < 5)
    assert np.abs(errors[:5]).max() < 1e-9 and errors[-1] == pytest.approx(1 / 1.2 - 1, rel=1e-9)


def test_the_expectation_follows_the_gpu_named_and_falls_back_to_the_six_phone_median():
    from pytest_tflite_latency.bench.calibration_priors import EXPECTED_WITHIN_10PCT, WITHIN_10PCT_BY_PHONE
    from pytest_tflite_latency.estimator.devices import gpu_family

    powervr = calibrate.expected(12, gpu_family("powervr"))  # the PowerVR phones: the A03s and the A10 iPhone 7
    assert powervr["n"] == 10 and powervr["within_10pct"] == EXPECTED_WITHIN_10PCT[10]
    assert powervr["analogue_phones"] == {"Samsung Galaxy A03s": WITHIN_10PCT_BY_PHONE["a03s"][10],
                                         "Apple iPhone 7": WITHIN_10PCT_BY_PHONE["iphone7"][10]}
    mali = calibrate.expected(10, gpu_family("mali-g715"))["analogue_phones"]  # the S10 had no sibling to start from
    assert "Samsung Galaxy S10" not in mali and {"Google Pixel 4", "Apple iPhone 7"} <= set(mali)
    assert "analogue_phones" not in calibrate.expected(2, gpu_family("auto"))  # no GPU named: the median alone
    assert calibrate.expected(2)["n"] == 1


def test_devices_v_repeats_a_calibrated_profiles_expectation_on_unseen_models_as_calibrate_said_it(
        models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path)
    out = tmp_path / "pixel8-gpu.json"
    assert cli.main(["calibrate", str(csv), "--models", folder, "--gpu", "mali-g715", "--out", str(out)]) == 0
    said = next(line for line in capsys.readouterr().out.splitlines() if "expected on unseen models:" in line)
    assert cli.main(["devices", "-v", "--profiles", str(out)]) == 0
    listed = " ".join(capsys.readouterr().out.split())  # the long lines are wrapped
    expectation = said.split("expected on unseen models: ")[1].split(" (")[0]  # "about 53–69% within ±10%"
    assert f"expected on unseen models: {expectation}" in listed


def test_an_out_that_is_one_of_the_measurement_files_is_refused_and_the_file_kept(models, tmp_path, capsys):
    path = _on_device(models, tmp_path, "Mali-G76 MP12")
    before = path.read_bytes()
    assert cli.main(["calibrate", str(path), "--name", "measurements", "--out", str(path)]) == 2
    assert "is one of the measurement files read" in capsys.readouterr().err
    assert path.read_bytes() == before


@pytest.mark.parametrize(("key", "second"), [("phone", "Phone Y"), ("gpu", "Adreno (TM) 740"),
                                             ("runtime", "nnapi")])
def test_measurements_of_two_phones_gpus_or_runtimes_are_refused_naming_each(models, tmp_path, capsys, key, second):
    path = _on_device(models, tmp_path, "Mali-G76 MP12")
    doc = json.loads(path.read_text())
    doc["measurements"][0][key] = second
    path.write_text(json.dumps(doc))
    assert cli.main(["calibrate", str(path), "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"'{second}': " in err and "measurements[0]" in err and "measurements[1]" in err
    assert not (tmp_path / "p.json").exists()


def _logs(models, tmp_path, lines: list[str]) -> list[Path]:
    """benchmark_model logs of the first models, each with its extra lines."""
    out = []
    for i, (r, extra) in enumerate(zip(_records(models), lines, strict=False)):
        us = r.y_ms * 1000
        out.append(tmp_path / f"run{i}.txt")
        out[-1].write_text(f"STARTING!\nGraph: [{Path(r.name).name}]\nUse gpu: [1]\n{extra}\ncount=50 curr={us:.0f}"
                           f"(all same)\nInference timings in us: Init: 1, First inference: 1, Warmup (avg): 1, "
                           f"Inference (avg): {us:.1f}\n")
    return out


def test_a_profile_calibrated_from_fp32_runs_states_fp32_and_a_mix_of_precisions_is_refused(models, tmp_path, capsys):
    folder = str(Path(next(iter(models))).parent)
    fp32 = _logs(models, tmp_path, ["Allow lower precision in gpu: [0]"] * 5)
    out = tmp_path / "p.json"
    assert cli.main(["calibrate", *map(str, fp32), "--models", folder, "--out", str(out)]) == 0
    assert load_profile(out).device.compute_precision == "fp32"
    mixed = _logs(models, tmp_path, ["Allow lower precision in gpu: [1]"] + ["Allow lower precision in gpu: [0]"] * 4)
    assert cli.main(["calibrate", *map(str, mixed), "--models", folder, "--out", str(tmp_path / "q.json")]) == 2
    assert "name 2 GPU precisions ('fp16': " in capsys.readouterr().err


def test_a_float16_twin_of_a_measured_model_counts_once(models, tmp_path, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    first = Path(next(iter(models)))
    for p in models:
        (folder / Path(p).name).write_bytes(Path(p).read_bytes())
    (folder / "net0_copy.tflite").write_bytes(first.read_bytes() + b"")  # same kernels, another name
    csv = tmp_path / "m.csv"
    rows = [f"{Path(r.name).stem},{r.y_ms}\n" for r in _records(models)[:5]]
    csv.write_text("model,ms\n" + "".join(rows) + rows[0].replace("net0", "net0_copy"))
    assert cli.main(["calibrate", str(csv), "--models", str(folder), "--out", str(tmp_path / "p.json")]) == 0
    assert "counted once: net0, net0_copy have the same kernels" in capsys.readouterr().err
    assert load_profile(tmp_path / "p.json").provenance["calibration"]["models"] == 5


def test_the_profile_lists_the_models_it_was_calibrated_on_with_their_measured_and_fitted_times(models, tmp_path):
    csv, folder = _csv(models, tmp_path)
    assert cli.main(["calibrate", str(csv), "--models", folder, "--out", str(tmp_path / "p.json")]) == 0
    measured = load_profile(tmp_path / "p.json").provenance["calibration"]["measured"]
    expected = {Path(r.name).stem: r.y_ms for r in _records(models)[:5]}
    assert {m["model"]: m["ms"] for m in measured} == pytest.approx(expected, rel=1e-3)
    assert all(m["fitted_ms"] > 0 for m in measured)


def test_a_model_the_calibration_cannot_fit_is_named_with_its_miss(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path, count=6)
    rows = csv.read_text().splitlines()
    name, ms = rows[1].split(",")
    csv.write_text("\n".join([rows[0], f"{name},{float(ms) * 3}", *rows[2:]]) + "\n")  # one model 3× off
    assert cli.main(["calibrate", str(csv), "--models", folder, "--out", str(tmp_path / "p.json")]) == 0
    assert f"the calibration puts {name} at" in capsys.readouterr().out


@pytest.mark.parametrize(("option", "value", "problem"), [
    ("--phone", "Pix\n8\x1b[31m", "--phone: "), ("--name", "pixel8-gpu.json", "is a file name"),
    ("--name", "", "--name: empty")])
def test_a_phone_or_name_that_would_break_a_listing_is_refused(models, tmp_path, capsys, option, value, problem):
    csv, folder = _csv(models, tmp_path)
    assert cli.main(["calibrate", str(csv), "--models", folder, option, value, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err and not list(tmp_path.glob("*.json"))


def test_calibrate_from_an_empty_database_file_leaves_it_empty(tmp_path, capsys):
    db = tmp_path / "empty.sqlite"
    db.write_bytes(b"")
    assert cli.main(["calibrate", "--db", str(db), "--device-name", "x", "--out", str(tmp_path / "x.json")]) == 2
    assert "an empty file, no measurement database" in capsys.readouterr().err
    assert db.read_bytes() == b""


def test_suggest_on_a_folder_without_models_says_so(tmp_path, capsys):
    assert cli.main(["calibrate", "--suggest", "3", "--models", str(tmp_path)]) == 2
    assert f"--suggest: no .tflite file in --models {tmp_path}" in capsys.readouterr().err


def test_devices_shows_control_characters_of_a_hand_edited_profile_as_question_marks(models, tmp_path, capsys):
    csv, folder = _csv(models, tmp_path)
    out = tmp_path / "p8.json"
    assert cli.main(["calibrate", str(csv), "--models", folder, "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    doc["device"]["phone"] = "Pix\n8\x1b[31m"
    out.write_text(json.dumps(doc))
    capsys.readouterr()
    assert cli.main(["devices", "--profiles", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "Pix?8?[31m" in printed


def test_a_measured_16x8_model_is_left_out_and_named_not_fitted(models, tmp_path, capsys):
    from pytest_tflite_latency.bench.writer import ModelWriter

    folder = tmp_path / "models"
    folder.mkdir()
    for p in models:
        (folder / Path(p).name).write_bytes(Path(p).read_bytes())
    m = ModelWriter("float32", fill="zeros")
    x = m.input((1, 8, 8, 4), dtype="int16")
    w = m.const(np.zeros((4, 3, 3, 4), np.int8), quant=((0.01,), (0,), 0))
    conv = dict(Padding=0, StrideW=1, StrideH=1, DilationWFactor=1, DilationHFactor=1, FusedActivationFunction=0)
    (y,) = m.op("CONV_2D", [x, w, m.const(np.zeros(4, np.int64))], [(1, 8, 8, 4)], conv, output_dtype="int16")
    m.tensors[x].quant = m.tensors[y].quant = ((0.05,), (0,), 0)
    (folder / "int16.tflite").write_bytes(m.to_bytes([y]))
    csv, _ = _csv(models, tmp_path)
    csv.write_text(csv.read_text() + "int16,50.0\n")
    assert cli.main(["calibrate", str(csv), "--models", str(folder), "--out", str(tmp_path / "p.json")]) == 0
    assert "skipped: int16.tflite: a 16x8-quantized model" in capsys.readouterr().err
    assert load_profile(tmp_path / "p.json").provenance["calibration"]["models"] == 5
