"""Two estimates → what changed: totals before and after, and the kernels that appeared,
disappeared or changed cost, sorted by the change. Text, JSON and HTML.

Kernels are paired by aligning the two kernel sequences on (ops, where they run) with difflib, so
a convolution whose filters grew reads as one kernel that changed cost, not as one gone and one new.
Loaded only by ``tflite-latency diff`` and the plugin's HTML page.
"""

from __future__ import annotations

import difflib
import json
import math
import textwrap
from dataclasses import asdict, dataclass, fields

from pytest_tflite_latency.estimator.pipeline import Estimate, LayerEstimate

FORMATS = ("text", "json", "html")
RESOLUTION_MS = 0.0005  # below the printed precision: reported as unchanged


@dataclass(frozen=True)
class KernelChange:
    """One kernel's cost before and after (``None`` on the side where it does not exist)."""

    status: str  # "appeared" | "disappeared" | "changed"
    ops: str
    runs_on: str
    old_index: int | None
    new_index: int | None
    old_shape: str
    new_shape: str
    old_ms: float | None
    new_ms: float | None

    @property
    def delta_ms(self) -> float:
        return (self.new_ms or 0.0) - (self.old_ms or 0.0)


@dataclass(frozen=True)
class ModelDiff:
    """Old and new model estimated on one device (or the old one on ``old_device``: a float model on a
    float32 CPU profile against its int8 twin on the int8 one), and the kernels that differ."""

    old_model: str
    new_model: str
    device: str
    old_ms: float
    new_ms: float
    old_kernels: int
    new_kernels: int
    changes: tuple[KernelChange, ...]
    unchanged: int
    old_warnings: tuple[str, ...] = ()  # each estimate's caveats: a figure's change may come from one of them
    new_warnings: tuple[str, ...] = ()
    old_device: str = ""  # where the old model was estimated, when not on ``device``

    @property
    def title(self) -> str:
        """"old → new on device", or each model with its own device."""
        if self.old_device and self.old_device != self.device:
            return f"{self.old_model} on {self.old_device} → {self.new_model} on {self.device}"
        return f"{self.old_model} → {self.new_model} on {self.device}"

    def warning_lines(self) -> list[str]:
        """Each estimate's warnings once, saying whose: "both", "old" or "new"."""
        both = [w for w in self.new_warnings if w in self.old_warnings]
        return [*(f"warning ({side}): {w}" for side, ws in (("both", both),
                                                            ("old", [w for w in self.old_warnings if w not in both]),
                                                            ("new", [w for w in self.new_warnings if w not in both]))
                  for w in ws)]

    @property
    def delta_ms(self) -> float:
        return self.new_ms - self.old_ms

    @property
    def delta_pct(self) -> float | None:
        return 100 * self.delta_ms / self.old_ms if self.old_ms > 0 else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(delta_ms=self.delta_ms, delta_pct=self.delta_pct)
        for c, obj in zip(d["changes"], self.changes, strict=True):
            c["delta_ms"] = obj.delta_ms
        return d


def _shape(layer: LayerEstimate | None) -> str:
    if layer is None or layer.output_shape is None:
        return ""
    return "x".join(map(str, layer.output_shape))


def _change(status: str, old: LayerEstimate | None, new: LayerEstimate | None) -> KernelChange:
    ref = new or old
    assert ref is not None
    return KernelChange(status, "+".join(ref.ops), ref.runs_on, old.index if old else None,
                        new.index if new else None, _shape(old), _shape(new),
                        old.ms if old else None, new.ms if new else None)


def diff_estimates(old: Estimate, new: Estimate) -> ModelDiff:
    """Pair the kernels of ``old`` and ``new`` and list those that differ, largest change first."""
    def key(layer: LayerEstimate) -> tuple:
        return (layer.ops, layer.runs_on)

    matcher = difflib.SequenceMatcher(None, [key(x) for x in old.layers], [key(x) for x in new.layers],
                                      autojunk=False)
    changes, unchanged = [], 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for a, b in zip(old.layers[i1:i2], new.layers[j1:j2], strict=True):
                if abs(b.ms - a.ms) >= RESOLUTION_MS or _shape(a) != _shape(b) or not math.isfinite(b.ms - a.ms):
                    changes.append(_change("changed", a, b))
                else:
                    unchanged += 1
            continue
        changes += [_change("disappeared", a, None) for a in old.layers[i1:i2]]
        changes += [_change("appeared", None, b) for b in new.layers[j1:j2]]
    changes.sort(key=lambda c: (-abs(c.delta_ms) if math.isfinite(c.delta_ms) else -math.inf,
                                c.new_index if c.new_index is not None else -1,
                                c.old_index if c.old_index is not None else -1))
    return ModelDiff(old.model, new.model, new.device, old.total_ms, new.total_ms, len(old.layers),
                     len(new.layers), tuple(changes), unchanged, tuple(old.warnings), tuple(new.warnings),
                     old.device if old.device != new.device else "")


def _tuple(value: list | tuple | None) -> tuple | None:
    return None if value is None else tuple(_tuple(v) if isinstance(v, list) else v for v in value)


def layers_from_dicts(model: str, device: str, total_ms: float, layers: list[dict]) -> Estimate:
    """An `Estimate` rebuilt from the ``layers`` of a JSON report (``Estimate.to_dict()``), to diff
    against a baseline that only exists as a file. Raises ValueError on a malformed record."""
    names = {f.name for f in fields(LayerEstimate)}
    shaped = ("ops", "input_shapes", "output_shape", "kernel", "op_indices")
    try:
        rebuilt = tuple(LayerEstimate(**{k: _tuple(v) if k in shaped else v for k, v in d.items() if k in names})
                        for d in layers)
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"malformed layer record ({exc})") from None
    return Estimate(model, device, device, float(total_ms), (float(total_ms), float(total_ms)), rebuilt)


def _pct(d: ModelDiff) -> str:
    return f", {d.delta_pct:+.1f}%" if d.delta_pct is not None else ""


def _opt_ms(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "-"


def _index(c: KernelChange) -> str:
    old = f"#{c.old_index}" if c.old_index is not None else "-"
    new = f"#{c.new_index}" if c.new_index is not None else "-"
    return f"{old}→{new}"


def render_text(d: ModelDiff, width: int | None = None) -> str:
    """The diff for a terminal (lines of at most ``width`` characters: output shapes are cut first)
    or a review comment."""
    from pytest_tflite_latency.estimator.table import text_table

    lines = [d.title,
             f"total: {d.old_ms:.2f} ms → {d.new_ms:.2f} ms ({d.delta_ms:+.2f} ms{_pct(d)}), "
             f"kernels: {d.old_kernels} → {d.new_kernels}, {d.unchanged} unchanged", ""]
    if width is not None:
        lines = [*(textwrap.fill(ln, width, subsequent_indent="  ", break_long_words=False) for ln in lines[:2]), ""]
    notes = d.warning_lines()
    if width is not None:
        notes = [textwrap.fill(n, width, subsequent_indent="  ", break_long_words=False) for n in notes]
    if not d.changes:
        return "\n".join([*lines, "no kernel changed cost", *notes]) + "\n"
    heads = ("change ms", "status", "kernel", "ops", "on", "old ms", "new ms", "output")
    rows = [(f"{c.delta_ms:+.3f}", c.status, _index(c), c.ops, c.runs_on, _opt_ms(c.old_ms), _opt_ms(c.new_ms),
             c.new_shape or c.old_shape) for c in d.changes]  # both shapes: JSON and HTML
    lines += text_table(heads, rows, frozenset({0, 5, 6}), width, shrink=heads.index("ops"))
    return "\n".join([*lines, *notes]) + "\n"


def html_body(d: ModelDiff) -> str:
    """The diff as an HTML fragment (header and sortable table), for a page of its own or a section."""
    from pytest_tflite_latency.estimator.html_report import esc, table

    cls = "up" if d.delta_ms > 0 else "down"
    head = (f'<h2 class="diff">{esc(d.title)}</h2>\n'
            f'<p>total <span class="old">{d.old_ms:.3f} ms</span> → <span class="new">{d.new_ms:.3f} ms</span> '
            f'<span class="{cls}">({d.delta_ms:+.3f} ms{esc(_pct(d))})</span>; kernels {d.old_kernels} → '
            f"{d.new_kernels}, {d.unchanged} unchanged</p>")
    heads = [("change ms", True), ("status", False), ("kernel", False), ("ops", False), ("on", False),
             ("old ms", True), ("new ms", True), ("old output", False), ("new output", False)]
    rows = [[(f"{c.delta_ms:+.3f}", c.delta_ms), (c.status, None), (_index(c), None), (c.ops, None),
             (c.runs_on, None), (_opt_ms(c.old_ms), c.old_ms), (_opt_ms(c.new_ms), c.new_ms),
             (c.old_shape, None), (c.new_shape, None)] for c in d.changes]
    notes = "".join(f"<li>{esc(n)}</li>" for n in d.warning_lines())
    return head + "\n" + table(heads, rows) + (f'\n<ul class="warnings">{notes}</ul>' if notes else "")


def render(d: ModelDiff, fmt: str = "text", width: int | None = None) -> str:
    """The diff as ``text`` (lines of at most ``width`` characters), ``json`` or ``html`` (a whole page)."""
    if fmt == "json":
        return json.dumps(d.to_dict(), indent=2) + "\n"
    if fmt == "html":
        from pytest_tflite_latency.estimator.html_report import page

        return page(d.title, html_body(d))
    return render_text(d, width)
