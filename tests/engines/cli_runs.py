"""Running the ``crmwb`` command as a user does: in a process of its own, on params files the
test writes, with the monthly pack of ``params/reports.yaml``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def crmwb(
    *args: str, cwd: Path = ROOT, password: str | None = None, timeout: float = 1500
) -> subprocess.CompletedProcess[str]:
    """``crmwb ARGS`` in a new process; the database password only from the environment."""
    env = {k: v for k, v in os.environ.items() if k != "CRMWB_DATABASE_PASSWORD"}
    if password is not None:
        env["CRMWB_DATABASE_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "crmlib.report.cli", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False,
    )  # fmt: skip


def write_params(folder: Path, engine: dict[str, Any], tables: dict[str, Any]) -> Path:
    """A data params file ``folder/data.yaml`` with this ``engine:`` section and tables."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "data.yaml"
    params = {"engine": engine, "quarantine_dir": str(folder / "quarantine"), **tables}
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    return path


def packs_file(folder: Path, data_params: Path) -> Path:
    """The monthly pack of ``params/reports.yaml`` (the default pack), reading ``data_params``."""
    packs = yaml.safe_load((ROOT / "params" / "reports.yaml").read_text(encoding="utf-8"))
    monthly = packs["packs"]["monthly"]
    monthly["parameters"]["defaults"]["data_params"] = str(data_params)
    path = folder / "reports.yaml"
    content = {
        "notebooks_dir": str(ROOT / "notebooks"),
        "default_pack": "monthly",
        "packs": {"monthly": monthly},
    }
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return path


def run_monthly(
    folder: Path, data_params: Path, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``crmwb run monthly`` reading ``data_params``, into ``folder/reports``."""
    return crmwb(
        "run", "monthly", "--packs", str(packs_file(folder, data_params)),
        "--reports-dir", str(folder / "reports"), "--no-progress", "--jobs", "2",
        password=password,
    )  # fmt: skip
