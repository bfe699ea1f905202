"""Shared fixtures: a small demo retailer built once per session, its truth and params, CDNOW."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

#: Size and seed of the session's demo retailer.
DEMO_CUSTOMERS = 3_000
DEMO_SEED = 7


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo retailer (3,000 members, seed 7) written once per test session."""
    from crmlib.simulate import write_demo

    out = tmp_path_factory.mktemp("demo") / "demo"
    return write_demo(
        out,
        customers=DEMO_CUSTOMERS,
        seed=DEMO_SEED,
        config=ROOT / "params" / "simulate.yaml",
    )


@pytest.fixture(scope="session")
def demo_truth(demo_dir: Path) -> dict[str, Any]:
    """The planted ground truth of the session's demo (truth.json as a dict)."""
    with (demo_dir / "truth.json").open(encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="session")
def demo_params(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data.yaml like params/data.yaml whose paths point (absolute) at the session's demo."""
    with (ROOT / "params" / "data.yaml").open(encoding="utf-8") as fh:
        params = yaml.safe_load(fh)
    for section in params.values():
        if isinstance(section, dict) and "path" in section:
            section["path"] = str(demo_dir / Path(section["path"]).name)
    path = tmp_path_factory.mktemp("params") / "data.yaml"
    with path.open("w", encoding="utf-8") as fh:
        yaml.safe_dump(params, fh, allow_unicode=True, sort_keys=False)
    return path


@pytest.fixture(scope="session")
def cdnow_sample() -> pd.DataFrame:
    """The CDNOW 1/10 sample (2,357 customers) as canonical transactions."""
    from crmlib.datasets import cdnow

    return cdnow("sample")
