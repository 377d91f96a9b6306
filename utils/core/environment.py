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


def package_status(path: Path = REQUIREMENTS) -> list[PackageStatus]:
    """Compare every pinned requirement with the installed distribution."""
    result = []
    for name, pinned in read_pins(path).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        result.append(PackageStatus(name, pinned, installed))
    return result


def check_environment(path: Path = REQUIREMENTS) -> bool:
    """Print ✔/✘ per package with the command that fixes a ✘; return True if all match."""
    statuses = package_status(path)
    for s in statuses:
        mark = "✔" if s.ok else "✘"
        found = s.installed or "not installed"
        print(f"{mark} {s.name:<24} pinned {s.pinned:<10} installed {found}")
    bad = [s for s in statuses if not s.ok]
    if bad:
        print("\nTo fix:  .venv/bin/python -m pip install " + " ".join(f"'{s.name}=={s.pinned}'" for s in bad))
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
