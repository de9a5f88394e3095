"""The one table of devices the project knows: the phones of the shared measurements, their GPUs, the
names a user may give them, and the published nn-Meter devices. GPU aliases (`defaults.GPU_ALIASES`),
the bench's training recipes (`bench.qed.PHONES`, `bench.build_profiles.NNMETER`, `bench.dataset.
NB201_DEVICES`) and calibration's choice of prior (`gpu_family`) are derived from it.

Imports nothing heavy: `tflite-latency --version` and alias lookups read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Vendor = Literal["qualcomm", "arm", "imagination", "apple"]
Backend = Literal["gpu", "cpu"]
VENDORS: tuple[Vendor, ...] = ("qualcomm", "arm", "imagination", "apple")
# Vendors whose GPUs the TFLite GPU delegate runs Winograd 4×4→6×6 convolutions on where its rule selects
# them (`estimator.features.winograd_rule`): every such kernel of the Mali, PowerVR and Apple phones in
# the shared measurements ran as `convolution_winograd_4x4_6x6`, none of the Adreno phones' did.
WINOGRAD_VENDORS: frozenset[Vendor] = frozenset({"arm", "imagination", "apple"})


def lineage(vendor: Vendor | None, generation: int | None) -> Vendor | None:
    """Whose architecture a GPU is: Apple's A10 and earlier GPUs are Imagination PowerVR designs (the
    A10's is a PowerVR GT7600 Plus); from the A11 on, Apple's own. Every other GPU is its vendor's."""
    if vendor == "apple" and generation is not None and generation <= 10:
        return "imagination"
    return vendor


def uses_winograd(vendor: Vendor | None) -> bool:
    """Whether the GPU delegate takes its Winograd path on this vendor's GPUs."""
    return vendor in WINOGRAD_VENDORS


@dataclass(frozen=True)
class Phone:
    """A phone of the shared qed-usc measurements and its stock-runtime GPU profile."""

    key: str  # the dataset's column prefix (``pixel4``)
    profile: str  # the bundled profile's name (``pixel4-gpu``)
    phone: str
    soc: str
    gpu: str
    vendor: Vendor
    generation: int  # the GPU's architecture generation within its vendor (Adreno 6xx → 6, Mali Bifrost G7x → 7)
    api: Literal["OpenCL", "Metal"]
    aliases: tuple[str, ...] = ()  # GPU names that select this profile (``adreno640``)

    @property
    def winograd(self) -> bool:
        """The delegate runs Winograd convolutions on this phone's GPU (`uses_winograd`)."""
        return uses_winograd(self.vendor)

    @property
    def family(self) -> GpuFamily:
        """This phone's GPU as a user would name it to `calibrate`."""
        return GpuFamily(self.vendor, self.generation, self.gpu)


@dataclass(frozen=True)
class PublishedDevice:
    """A device of nn-Meter's NAS-Bench-201 measurements (TFLite 2.1) and the profile built from it."""

    profile: str
    column: str  # the measurements.csv column prefix (``adreno640`` → ``adreno640_ms``)
    title: str
    backend: Backend
    runtime: str
    cpu_slowdown: float  # this device's CPU fallback relative to the Cortex-A76 base (a prior)
    judged_on: str  # the qed-usc phone whose real CNNs judge the profile (`Phone.key`)


PHONES: tuple[Phone, ...] = (
    Phone("pixel4", "pixel4-gpu", "Google Pixel 4", "Snapdragon 855", "Adreno 640", "qualcomm", 6, "OpenCL",
          ("adreno640",)),
    Phone("mi8se", "mi8se-gpu", "Xiaomi Mi 8 SE", "Snapdragon 710", "Adreno 616", "qualcomm", 6, "OpenCL",
          ("adreno616",)),
    Phone("s10", "galaxys10-gpu", "Samsung Galaxy S10", "Exynos 9820", "Mali-G76 MP12", "arm", 7, "OpenCL",
          ("mali-g76",)),
    Phone("a03s", "galaxya03s-gpu", "Samsung Galaxy A03s", "MediaTek Helio P35", "PowerVR GE8320", "imagination",
          8, "OpenCL", ("powervr-ge8320",)),
    Phone("iphonexs", "iphonexs-gpu", "Apple iPhone XS", "A12 Bionic", "Apple G11P", "apple", 12, "Metal"),
    Phone("iphone7", "iphone7-gpu", "Apple iPhone 7", "A10 Fusion", "PowerVR GT7600 Plus (custom)", "apple", 10,
          "Metal"),
)

_NNMETER_GPU_RUNTIME = "TensorFlow Lite 2.1 GPU delegate (OpenCL), nn-Meter's build"
PUBLISHED: tuple[PublishedDevice, ...] = (
    PublishedDevice("nnmeter-adreno640", "adreno640",
                    "Adreno 640 GPU (Snapdragon 855, Xiaomi Mi 9), nn-Meter's TFLite 2.1", "gpu",
                    _NNMETER_GPU_RUNTIME, 1.0, "pixel4"),
    PublishedDevice("nnmeter-adreno630", "adreno630",
                    "Adreno 630 GPU (Snapdragon 845, Pixel 3 XL), nn-Meter's TFLite 2.1", "gpu",
                    _NNMETER_GPU_RUNTIME, 1.25, "pixel4"),
    PublishedDevice("nnmeter-cortexa76", "cortexa76", "Cortex-A76 CPU, one core (Pixel 4), nn-Meter's TFLite 2.1",
                    "cpu", "TensorFlow Lite 2.1 CPU, nn-Meter's build", 1.0, "pixel4"),
)


def gpu_aliases() -> dict[str, str]:
    """GPU name → bundled profile name, from the table."""
    return {alias: p.profile for p in PHONES for alias in p.aliases}


def phone(key: str) -> Phone:
    """The table's phone for a dataset key (``pixel4``)."""
    return next(p for p in PHONES if p.key == key)


@dataclass(frozen=True)
class GpuFamily:
    """What a user says about their phone's GPU: its vendor and, where given, the generation."""

    vendor: Vendor | None  # None: ``auto``
    generation: int | None = None
    text: str = "auto"

    @property
    def lineage(self) -> Vendor | None:
        return lineage(self.vendor, self.generation)


def nearest_phones(family: GpuFamily, among: tuple[Phone, ...] | list[Phone]) -> list[Phone]:
    """The phones of ``among`` a calibration for ``family`` starts from: those whose GPU is of the same
    architecture (`lineage`: an A10 iPhone's with the PowerVR phones), else of the same vendor, else all.
    With the lineage, the Galaxy A03s (PowerVR GE8320) calibrated from the iPhone 7 alone holds 74% of
    its unseen models within ±10% at N = 10 (65% from all five phones) and the iPhone 7 from the A03s
    78% (70% from the iPhone XS); at N = 3, 66% (29%) and 63% (67%): `bench.calibration_curve`."""
    if family.vendor is None:
        return list(among)
    for same in (lambda p: p.family.lineage == family.lineage, lambda p: p.vendor == family.vendor):
        chosen = [p for p in among if same(p)]
        if chosen:
            return chosen
    return list(among)


def analogue_phones(family: GpuFamily, among: tuple[Phone, ...] | list[Phone]) -> list[Phone]:
    """The phones of ``among`` whose own calibration, each left out in turn, stands for one to ``family``:
    those nearest it (`nearest_phones`) that had a phone of their own GPU's kind to start from, as a
    calibration for ``family`` has; where none of those had (the Galaxy S10, the one Mali phone, for a
    Mali GPU), every phone that had. A Mali phone is told what calibrating from a sibling gave, not what
    the S10 got from no sibling at all."""
    def had_sibling(p: Phone) -> bool:
        others = [q for q in among if q is not p]
        return len(nearest_phones(p.family, others)) < len(others)

    with_sibling = [p for p in among if had_sibling(p)]
    near = [p for p in nearest_phones(family, among) if p in with_sibling]
    return near or with_sibling


# A GPU name's vendor and generation: ``adreno750`` → Qualcomm 7, ``mali-g715`` → Arm (Valhall, G7xx: 7),
# ``apple-a17`` → Apple 17, ``powervr``/``ge8320``/``bxm`` → Imagination.
_FAMILY = (
    (re.compile(r"^adreno[-_ ]?(\d)\d*$"), "qualcomm"),
    (re.compile(r"^(?:mali|immortalis)[-_ ]?g(\d)\d*(?:[-_ ]?(?:mp\d+|mc\d+|immortalis))*$"), "arm"),
    (re.compile(r"^xclipse[-_ ]?(\d)\d*$"), "arm"),  # Samsung's RDNA GPUs: closest to the Mali phones' runtime path
    (re.compile(r"^(?:apple[-_ ]?)?a(\d{1,2})(?:[-_ ]?\w+)?$"), "apple"),
    (re.compile(r"^(?:powervr|imagination)[-_ ]?[a-z]*[-_ ]?\d*[a-z ]*$"), "imagination"),
    (re.compile(r"^(?:ge|gt|gm|bxm|bxe|dxt)[-_ ]?\d+[a-z]*$"), "imagination"),
)


def gpu_family(text: str) -> GpuFamily:
    """Parse ``--gpu``: ``auto``, a vendor (``adreno``, ``mali``, ``apple``, ``powervr``) or a GPU name,
    also as the phone's GL renderer names it. Raises ValueError with the names it understands."""
    # as Android's GL renderer says it ("Adreno (TM) 740", "PowerVR Rogue GE8320", "Mali-G715-Immortalis MC11",
    # "ANGLE (Samsung Xclipse 920) on Vulkan 1.3.231")
    t = text.strip().lower()
    angle = re.match(r"angle \((?:samsung )?(.*?)\)", t)  # "ANGLE (Samsung Xclipse 920) on Vulkan 1.3": GL over Vulkan
    t = " ".join(re.sub(r"\((?:tm|r)\)|\brogue\b", " ", angle.group(1) if angle else t).split())
    # the vendor's prefix and a "GPU" suffix, as Metal and some renderers name it ("Apple A17 Pro GPU",
    # "Qualcomm Adreno 750")
    t = re.sub(r"^(?:qualcomm|arm|samsung) (?=adreno|mali|immortalis|xclipse)", "", t)
    t = re.sub(r"(?: (?:pro|bionic))? gpu$", "", t) if t != "gpu" else t
    if t == "auto":
        return GpuFamily(None)
    words = {"adreno": "qualcomm", "qualcomm": "qualcomm", "mali": "arm", "arm": "arm", "immortalis": "arm",
             "xclipse": "arm", "apple": "apple", "powervr": "imagination", "imagination": "imagination"}
    if t in words:
        return GpuFamily(words[t], None, t)  # type: ignore[arg-type]
    for pattern, vendor in _FAMILY:
        m = pattern.match(t)
        if m:
            gen = m.group(1) if m.groups() else None
            return GpuFamily(vendor, int(gen) if gen else None, t)  # type: ignore[arg-type]
    raise ValueError(f"unknown GPU {text!r}: name a vendor (adreno, mali, apple, powervr), a GPU "
                     "(adreno750, mali-g715, apple-a17, powervr-ge8320) or auto")
