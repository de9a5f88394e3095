"""The plugin's command-line options and ini keys, and `LatencyOptions`: their values, checked once.

Every number is checked by `checked_number` (finite, in range) and every path the plugin will read is
named here; a value out of range is a usage error naming the option or ini key it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

DEFAULT_REGRESSION_PCT = 5.0
MAX_REGRESSION_PCT = 1e6  # a threshold beyond this is a typo (it would switch regression checks off)
BASELINE_MISSING = ("error", "skip")


def add_options(parser: pytest.Parser) -> None:
    g = parser.getgroup("tflite-latency", "TFLite latency budgets (pytest-tflite-latency)")
    g.addoption("--latency-budgets", metavar="PATH",
                help="budget YAML file (default: latency-budgets.yaml files found in the tests)")
    g.addoption("--latency-device", metavar="NAME",
                help="device for checks that name none (pixel4-gpu): a profile name, a GPU's name, a profile "
                     "JSON file, or a profile in --latency-profiles")
    g.addoption("--latency-profiles", metavar="DIR",
                help="a folder of the team's own profiles: device NAME finds DIR/NAME.json")
    g.addoption("--latency-policy", choices=("estimate", "upper"),
                help="hold the estimate (default) or the interval's upper bound to the budget")
    g.addoption("--latency-margin", metavar="PCT", help="demand PCT%% of headroom (0 up to 100)")
    g.addoption("--latency-report", metavar="PATH", help="write a JSON report of every check")
    g.addoption("--latency-html", metavar="PATH",
                help="write an HTML page of every check, with a page per model and device and regressions' "
                     "kernel diffs")
    g.addoption("--latency-baseline", metavar="PATH",
                help="a previous --latency-report: fail on estimates that regressed beyond the threshold")
    g.addoption("--latency-baseline-missing", choices=BASELINE_MISSING,
                help="when the --latency-baseline file does not exist: 'error' (default) or 'skip' it with a "
                     "notice (a pipeline's first run)")
    g.addoption("--latency-regression", metavar="PCT",
                help=f"regression threshold against --latency-baseline (default {DEFAULT_REGRESSION_PCT:g}%%)")
    g.addoption("--on-device", action="store_true", default=None,
                help="also measure on an Android phone over adb (the first attached); none attached: the "
                     "budgets hold the estimates, and the header says so")
    g.addoption("--on-device-required", action="store_true", default=None,
                help="as --on-device, but no phone attached is a usage error")
    g.addoption("--device-serial", metavar="SERIAL",
                help="measure on the phone with this adb serial (implies --on-device-required)")
    g.addoption("--latency-benchmark-binary", metavar="PATH",
                help="TFLite benchmark_model binary to push (default: one already on the phone)")
    g.addoption("--latency-measurements", metavar="PATH",
                help="with --on-device: write every measurement to this JSON file (for `calibrate`)")
    parser.addini("latency_budgets", "budget YAML file")
    parser.addini("latency_device", "default device profile")
    parser.addini("latency_profiles", "folder of the team's own device profiles (NAME.json)")
    parser.addini("latency_policy", "estimate | upper", default="estimate")
    parser.addini("latency_margin", "headroom in percent", default="0")
    parser.addini("latency_regression", "regression threshold in percent", default=str(DEFAULT_REGRESSION_PCT))
    parser.addini("latency_benchmark_binary", "TFLite benchmark_model binary to push")
    parser.addini("latency_report", "JSON report path")
    parser.addini("latency_measurements", "JSON file for --on-device measurements")


@dataclass(frozen=True)
class LatencyOptions:
    """The session's options, each checked and with paths resolved."""

    budgets: Path | None = None
    device: str | None = None
    device_where: str = "--latency-device"  # where the device was given: the option or the ini key
    profiles: tuple[str, ...] = ()  # folders searched for a device's NAME.json
    policy: str = "estimate"
    margin_pct: float = 0.0
    report: Path | None = None
    html: Path | None = None
    baseline: Path | None = None
    baseline_missing: str = "error"
    regression_pct: float = DEFAULT_REGRESSION_PCT
    on_device: str | None = None  # None | "auto" | "required" | a serial
    benchmark_binary: str | None = None
    measurements: Path | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> LatencyOptions:
        """Read and check every option (the command line beats the ini file); `pytest.UsageError` naming
        the option or key of the first unusable value."""
        from pytest_tflite_latency.estimator.inputs import InputError, checked_number
        from pytest_tflite_latency.records import checked_margin

        def value(option: str, ini: str) -> tuple[str | None, str]:
            given = config.getoption(option)
            if given is not None:
                return given, option
            return (config.getini(ini) or None), f"{ini} (ini)"

        def path(option: str, ini: str | None = None) -> Path | None:
            given = config.getoption(option)
            if given is not None:
                return Path(given)
            text = config.getini(ini) if ini else None
            if not text:
                return None
            base = config.inipath.parent if config.inipath else config.rootpath
            return base / text

        try:
            margin, margin_where = value("--latency-margin", "latency_margin")
            regression, regression_where = value("--latency-regression", "latency_regression")
            policy, policy_where = value("--latency-policy", "latency_policy")
            if policy not in ("estimate", "upper"):
                raise InputError(policy_where, f"expected estimate or upper, got {str(policy)[:40]!r}")
            serial = config.getoption("--device-serial")
            on_device = serial or ("required" if config.getoption("--on-device-required") else
                                   "auto" if config.getoption("--on-device") else None)
            profiles = path("--latency-profiles", "latency_profiles")
            if profiles is not None and not _is_dir(profiles):
                raise InputError("--latency-profiles" if config.getoption("--latency-profiles") else
                                 "latency_profiles (ini)", f"{profiles}: not a folder")
            device, device_where = value("--latency-device", "latency_device")
            if device and config.getoption("--latency-device") is None:  # the ini file's: relative to it
                from pytest_tflite_latency.budgets import profile_relative_to

                device = profile_relative_to(config.inipath.parent if config.inipath else config.rootpath, device)
            return cls(
                budgets=path("--latency-budgets", "latency_budgets"), device=device, device_where=device_where,
                profiles=(str(profiles),) if profiles else (), policy=policy,
                margin_pct=checked_margin(margin or 0, margin_where),
                report=path("--latency-report", "latency_report"), html=path("--latency-html"),
                baseline=path("--latency-baseline"),
                baseline_missing=config.getoption("--latency-baseline-missing") or "error",
                regression_pct=checked_number(regression or DEFAULT_REGRESSION_PCT, regression_where, low=0,
                                              high=MAX_REGRESSION_PCT),
                on_device=on_device, benchmark_binary=value("--latency-benchmark-binary",
                                                            "latency_benchmark_binary")[0],
                measurements=path("--latency-measurements", "latency_measurements"))
        except InputError as exc:
            raise pytest.UsageError(str(exc)) from None


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False
