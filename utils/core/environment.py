"""Check the installed packages against requirements.txt, and list the devices frameworks see."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements.txt"


@dataclass
class PackageStatus:
    """One requirement: the pinned version, what is installed, and whether they agree."""

    name: str
    pinned: str
    installed: str | None

    @property
    def ok(self) -> bool:
        # A local build tag (2.13.0+cpu) satisfies the pin 2.13.0, as pip itself treats it.
        return self.installed is not None and self.installed.split("+")[0] == self.pinned


def _marker_applies(marker: str) -> bool:
    """Evaluate the only markers requirements.txt uses: sys_platform == / != '...'."""
    match = re.fullmatch(r"\s*sys_platform\s*(==|!=)\s*[\"']([^\"']+)[\"']\s*", marker)
    if not match:
        raise ValueError(f"unsupported environment marker in requirements.txt: {marker!r}")
    op, value = match.groups()
    return (sys.platform == value) == (op == "==")


def read_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """Return {package: pinned version} for the requirements that apply to this platform."""
    pins = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        spec, _, marker = line.partition(";")
        if marker and not _marker_applies(marker):
            continue
        if "==" not in spec:
            raise ValueError(f"requirements.txt must pin with ==, got {raw!r}")
        name, version = (part.strip() for part in spec.split("==", 1))
        pins[name] = version
    return pins


# Distributions that install the same import package: a GPU build of TensorFlow is `tensorflow`,
# the CPU build the pins choose on Linux and Windows is `tensorflow-cpu`. Either satisfies the pin.
SAME_PACKAGE = {"tensorflow-cpu": ("tensorflow-cpu", "tensorflow"), "tensorflow": ("tensorflow", "tensorflow-cpu")}


def installed_version(name: str) -> str | None:
    """The installed version of `name`, or of a distribution that provides the same package; None if absent."""
    for candidate in SAME_PACKAGE.get(name, (name,)):
        try:
            return metadata.version(candidate)
        except metadata.PackageNotFoundError:
            continue
    return None


def package_status(path: Path = REQUIREMENTS) -> list[PackageStatus]:
    """Compare every pinned requirement with the installed distribution."""
    return [PackageStatus(name, pinned, installed_version(name)) for name, pinned in read_pins(path).items()]


def check_environment(path: Path = REQUIREMENTS) -> bool:
    """Print ✔/⚠ per package and, for differences, a warning with the fix; return True if all match.

    It never raises: a different version usually still runs the course, and only a few stored
    outputs may differ (`make test` then says which).
    """
    statuses = package_status(path)
    for s in statuses:
        mark = "✔" if s.ok else "⚠"
        found = s.installed or "not installed"
        print(f"{mark} {s.name:<24} pinned {s.pinned:<10} installed {found}")
    bad = [s for s in statuses if not s.ok]
    if bad:
        print(f"\nWarning: {len(bad)} package(s) differ from requirements.txt. The chapters should still run,")
        print("but some outputs may differ from the stored ones. To install the pinned versions:")
        print("  .venv/bin/python -m pip install " + " ".join(f"'{s.name}=={s.pinned}'" for s in bad))
        print("or from the repository root:  make clean && make test")
    else:
        print(f"\nAll {len(statuses)} pinned packages match requirements.txt.")
    return not bad


def framework_devices() -> dict[str, list[str]]:
    """The devices TensorFlow and PyTorch can use here, e.g. {'tensorflow': ['CPU:0'], ...}."""
    from utils.core.frameworks import import_tensorflow, import_torch

    tf = import_tensorflow()
    torch = import_torch()
    tf_devices = [d.name.replace("/physical_device:", "") for d in tf.config.list_physical_devices()]
    torch_devices = ["cpu"]
    if torch.cuda.is_available():
        torch_devices += [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        torch_devices.append("mps")
    return {"tensorflow": tf_devices, "torch": torch_devices}
