"""Budget files: YAML that maps models (paths or globs) × devices to a ``max_ms``.

    defaults:                 # optional
      device: adreno640
      policy: estimate        # or "upper": hold the interval's upper bound to the budget
      margin_pct: 0
    budgets:
      - model: models/net.tflite
        device: adreno640
        max_ms: 15
        precision: fp32       # optional: the app's GPU delegate computes in fp32 (no precision loss)
      - model: models/*.tflite
        devices: [adreno640, nnmeter-adreno630]
        max_ms: 20

Model paths are relative to the budget file. Errors name the file and the line.
"""

from __future__ import annotations

import difflib
import glob
import os
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from pytest_tflite_latency.estimator.defaults import PRECISIONS, resolve_device
from pytest_tflite_latency.estimator.inputs import InputError, read_regular_file
from pytest_tflite_latency.estimator.wording import short_repr as _short
from pytest_tflite_latency.records import POLICIES, checked_budget, checked_margin

MAX_BUDGET_FILE_BYTES = 16 * 2**20
_ENTRY_KEYS = {"model", "device", "devices", "max_ms", "policy", "margin_pct", "name", "precision"}
_TOP_KEYS = {"defaults", "budgets"}
_DEFAULT_KEYS = {"device", "policy", "margin_pct", "precision"}


class BudgetFileError(Exception):
    """A budget file or entry is malformed; ``str()`` is ``path:line: problem``."""

    def __init__(self, path: Path, line: int | None, problem: str):
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Budget:
    """One collected check: a model file on a device with its budget (or an entry's error)."""

    model: Path | None
    label: str
    device: str
    max_ms: float
    policy: str
    margin_pct: float
    line: int
    error: str = ""  # the entry's problem; the item fails with it
    glob: bool = False  # matched by a glob, not named
    precision: str | None = None  # the app's GPU delegate precision (PRECISIONS); None: the profile's


class _LineLoader(yaml.SafeLoader):
    """Safe YAML without aliases (a few lines could expand to gigabytes), with string keys, each at
    most once; records the 1-based line of every mapping as ``__line__`` and of each key in ``__keys__``."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a budget file",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        self.flatten_mapping(node)
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(None, None, f"keys must be names, got {key!r}",
                                                        key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        mapping["__keys__"] = seen
        return mapping


def load_budgets(path: Path, default_device: str, default_policy: str = "estimate") -> list[Budget]:
    """Every (model, device) budget in ``path``; raises `BudgetFileError` if the file is unusable."""
    doc = _load_yaml(path)
    if isinstance(doc, dict):
        _known_keys(path, doc, _TOP_KEYS, "top-level key")
    if not isinstance(doc, dict) or not isinstance(doc.get("budgets"), list):
        raise BudgetFileError(path, doc.get("__line__") if isinstance(doc, dict) else 1,
                              "expected a mapping with a 'budgets:' list")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise BudgetFileError(path, doc["__line__"], "'defaults' must be a mapping")
    _known_keys(path, defaults, _DEFAULT_KEYS, "key in 'defaults'")
    if not isinstance(defaults.get("device", ""), str):
        raise BudgetFileError(path, defaults["__line__"], "defaults: device must be a device name")
    out: list[Budget] = []
    for i, entry in enumerate(doc["budgets"]):
        out += _entry(path, i, entry, defaults, default_device, default_policy)
    return _one_per_model_and_device(out)


def _load_yaml(path: Path):
    try:
        text = read_regular_file(path, MAX_BUDGET_FILE_BYTES, "budget file").decode("utf-8")
        return yaml.load(text, Loader=_LineLoader)
    except InputError as exc:
        raise BudgetFileError(path, None, exc.problem) from None
    except UnicodeDecodeError:
        raise BudgetFileError(path, None, "not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise BudgetFileError(path, mark.line + 1 if mark else None, f"not valid YAML: {problem}") from None
    except (ValueError, OverflowError):  # e.g. an integer of 5,000 digits
        raise BudgetFileError(path, None, "a value YAML cannot convert (a number of thousands of digits?)") \
            from None
    except RecursionError:
        raise BudgetFileError(path, None, "nested too deeply to read") from None


_META = {"__line__", "__keys__"}


def _key_line(mapping: dict, key: str) -> int:
    return mapping.get("__keys__", {}).get(key) or mapping["__line__"]


def _unknown_key(mapping: dict, known: set[str], what: str) -> tuple[int, str] | None:
    """(line, problem) of the first unknown key, with a "did you mean" for a near miss."""
    unknown = sorted(set(mapping) - known - _META, key=lambda k: _key_line(mapping, k))
    if not unknown:
        return None
    key = unknown[0]
    near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean {near[0]!r}?" if near else f"expected {', '.join(sorted(known))}"
    return _key_line(mapping, key), f"unknown {what} {key!r}; {hint}"


def _known_keys(path: Path, mapping: dict, known: set[str], what: str) -> None:
    found = _unknown_key(mapping, known, what)
    if found:
        raise BudgetFileError(path, *found)


def _one_per_model_and_device(budgets: list[Budget]) -> list[Budget]:
    """An entry that names a model beats a glob that matches it (whatever their order); of two globs
    the first keeps it; a model named twice on one device fails the second entry. A GPU's name and
    its profile's name are one device."""
    out: list[Budget] = []
    where: dict[tuple[Path, str], int] = {}
    for b in budgets:
        key = (b.model.resolve(), resolve_device(b.device)) if b.model else None
        if key is None or key not in where:
            if key is not None:
                where[key] = len(out)
            out.append(b)
            continue
        first = out[where[key]]
        if first.glob and not b.glob:
            out[where[key]] = b
        elif not first.glob and not b.glob:
            out.append(replace(b, model=None, label=f"{b.label}@line{b.line}",
                               error=f"{b.label} on {b.device} already has a budget on line {first.line}"))
    return out


def _entry(path: Path, i: int, entry, defaults: dict, device: str, policy: str) -> list[Budget]:
    if not isinstance(entry, dict):
        raise BudgetFileError(path, None, f"budget #{i + 1} must be a mapping with model and max_ms")
    line = entry["__line__"]
    label = str(entry.get("name") or entry.get("model") or f"budget-{i + 1}")

    def bad(problem: str, key: str | None = None) -> list[Budget]:
        at = _key_line(entry, key) if key else line
        return [Budget(None, label, str(entry.get("device") or device), 0.0, policy, 0.0, at, problem)]

    unknown = _unknown_key(entry, _ENTRY_KEYS, "key")
    if unknown:
        return [Budget(None, label, str(entry.get("device") or device), 0.0, policy, 0.0, *unknown)]
    for key in ("model", "max_ms"):
        if key not in entry:
            return bad(f"budget #{i + 1} has no '{key}'")
    try:
        max_ms = checked_budget(entry["max_ms"])
    except InputError:
        return bad(f"max_ms must be a finite positive number of milliseconds, at most an hour, got "
                   f"{_short(entry['max_ms'])}", "max_ms")
    if not isinstance(entry["model"], str):
        return bad(f"model must be a path or a glob, got {_short(entry['model'])}", "model")
    pol = entry.get("policy", defaults.get("policy", policy))
    if pol not in POLICIES:
        return bad(f"policy must be one of {', '.join(POLICIES)}, got {_short(pol)}", "policy")
    margin_given = entry.get("margin_pct", defaults.get("margin_pct", 0))
    try:
        margin = checked_margin(margin_given)
    except InputError:
        return bad(f"margin_pct must be a number from 0 up to 100, got {_short(margin_given)}", "margin_pct")
    precision = entry.get("precision", defaults.get("precision"))
    if precision is not None and precision not in PRECISIONS:
        return bad(f"precision must be one of {', '.join(PRECISIONS)}, got {_short(precision)}", "precision")
    if "device" in entry and "devices" in entry:
        return bad("give device or devices, not both (device would be left out)", "devices")
    devices = entry["devices"] if "devices" in entry else [entry.get("device") or defaults.get("device") or device]
    if not isinstance(devices, list) or not devices or not all(isinstance(d, str) for d in devices):
        return bad("devices must be a non-empty list of device names", "devices")
    devices = [profile_relative_to(path.parent, d) for d in devices]
    models = _models(path, str(entry["model"]))
    if not models:
        return bad(f"model {_short(entry['model'])} matches no file", "model")
    glob_ = glob.has_magic(str(entry["model"]))
    return [Budget(m, _label(path, m), d, float(max_ms), pol, float(margin), line, glob=glob_, precision=precision)
            for m in models for d in devices]


def profile_relative_to(folder: Path, device: str) -> str:
    """A profile JSON named in a file (a budget file, a test, the ini file) is relative to that file's
    ``folder``, as models are (shown from the working directory); a device name stays a name."""
    if not device.endswith(".json") or Path(device).is_absolute():
        return device
    return os.path.relpath(folder / device)


def _models(path: Path, pattern: str) -> list[Path]:
    full = path.parent / pattern
    try:
        if glob.has_magic(pattern):
            return sorted(Path(p) for p in glob.glob(str(full), recursive=True))
        return [full] if full.exists() else []
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte: no such file
        return []


def _label(path: Path, model: Path) -> str:
    try:
        return model.relative_to(path.parent).as_posix()
    except ValueError:
        return model.as_posix()
