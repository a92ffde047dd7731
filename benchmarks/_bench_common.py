"""What the time, server and memory benchmarks share: the machine's description, load, medians, the CLI.

Every figure these benchmarks print is a median over rounds on a named machine,
with the load average next to it: on a shared 2-core box a figure without the
load it was taken under cannot be compared with anything.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_mib() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def version_of(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def tool_version(argv: Sequence[str]) -> str | None:
    """First line a tool prints about its version, or None when it is not installed."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else None


def commit() -> str | None:
    """The project's git commit the figures belong to (with "+changes" when the package has local edits)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "conformance", "schemas",
                                "loadtests"], capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+changes" if dirty else "")


def machine(**extra: Any) -> dict[str, Any]:
    """The facts a reader needs to compare a figure with theirs."""
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus_online": os.cpu_count(),
        "cpus_allowed": affinity,
        "memory_mib": memory_mib(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "commit": commit(),
        **extra,
    }


def loadavg() -> float | None:
    """1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def median(values: Iterable[float | None], digits: int = 3) -> float | None:
    kept = [v for v in values if v is not None]
    return round(statistics.median(kept), digits) if kept else None


def spread(values: Iterable[float | None], digits: int = 3) -> dict[str, float | None]:
    """Median, min and max of the values that exist."""
    kept = [v for v in values if v is not None]
    if not kept:
        return {"median": None, "min": None, "max": None}
    return {"median": round(statistics.median(kept), digits), "min": round(min(kept), digits),
            "max": round(max(kept), digits)}


def cli() -> list[str]:
    """``token-conformance`` as a user runs it: the console script next to this interpreter."""
    script = Path(sys.executable).with_name("token-conformance")
    return [str(script)] if script.exists() else [sys.executable, "-m", "conformance"]


def write_json(path: str | None, data: Any) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {path}")
