"""JUnit XML properties of a test's checks (``latency_estimate_ms`` …), from their records."""

from __future__ import annotations

from pytest_tflite_latency.records import CheckRecord


def junit_properties(records: list[CheckRecord]) -> list[tuple[str, object]]:
    """``latency_estimate_ms`` … for a test's one check; with several, each name ends in
    ``[model@device]`` (and ``#n`` when that repeats). A check that could not be made gives its error."""
    props, seen = [], {}
    for r in records:
        tag = ""
        if len(records) > 1:
            key = f"{r.model}@{r.device}"
            seen[key] = seen.get(key, 0) + 1
            tag = f"[{key}]" if seen[key] == 1 else f"[{key}#{seen[key]}]"
        props += [(f"latency_{name}{tag}", value) for name, value in _fields(r)]
    return props


def _fields(r: CheckRecord) -> list[tuple[str, object]]:
    fields = [("model", r.model), ("device", r.device)]
    if r.error:
        return [*fields, ("budget_ms", r.max_ms), ("error", r.error), ("passed", False), ("verdict", r.verdict)]
    fields += [("policy", r.policy), ("estimate_ms", round(r.estimate_ms, 4)), ("budget_ms", r.max_ms),
               ("interval_ms", f"{r.interval_ms[0]:.4f}-{r.interval_ms[1]:.4f}")]
    if r.measured_ms is not None:
        fields.append(("measured_ms", round(r.measured_ms, 4)))
    if r.warnings:
        fields.append(("warnings", len(r.warnings)))
    return [*fields, ("passed", r.passed), ("verdict", r.verdict)]
