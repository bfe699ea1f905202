"""Comparing two analysis results for equality across engines.

Counts and labels must be equal exactly; floats to 1e-9 relative (a database sums in another
order), the bounds of a model's range to 1e-6 (:data:`RANGE_RTOL`). A float column is compared relative to each value and, for values that are sums
cancelling to about zero (a revenue of returns netted against purchases: 7e-16 on one engine,
0.0 on the other), to 1e-9 of the column's largest magnitude. Frames are compared after sorting rows by their non-float columns, since a database
returns groups in no fixed order unless the analysis sorts them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

RTOL = 1e-9
#: The bounds of a model's range (``*_lower``, ``*_upper``) rest on the fit's covariance, a
#: finite-difference Hessian whose last digits follow the data's summation order: 1e-6.
RANGE_RTOL = 1e-6
#: A fitted model's estimates: to 1e-6, within the optimiser's stopping tolerance.
FIT_RTOL = 1e-6


def _is_float(series: pd.Series) -> bool:
    return pd.api.types.is_float_dtype(series.dtype)


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=not any(n is not None for n in frame.index.names))
    keys = [c for c in frame.columns if not _is_float(frame[c])]
    if keys:
        text = ["\x1f".join(map(str, row)) for row in frame[keys].itertuples(index=False)]
        frame = frame.iloc[np.argsort(np.array(text, dtype=object), kind="stable")]
    return frame.reset_index(drop=True)


def assert_same(a: Any, b: Any, where: str = "result", *, rtol: float = RTOL) -> None:
    """Raise AssertionError naming ``where`` when ``a`` and ``b`` differ (see module docstring)."""
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        assert_same(a.to_frame("value"), b.to_frame("value"), where)
        return
    if isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame):
        assert list(a.columns) == list(b.columns), (
            f"{where}: columns {list(a.columns)} != {list(b.columns)}"
        )
        assert len(a) == len(b), f"{where}: {len(a)} rows != {len(b)} rows"
        ca, cb = _canonical(a), _canonical(b)
        for col in ca.columns:
            x, y = ca[col], cb[col]
            if _is_float(x) or _is_float(y):
                fx, fy = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
                scale = np.nanmax(np.abs(fx), initial=0.0)
                np.testing.assert_allclose(
                    fx, fy, rtol=RTOL, atol=RTOL * scale,
                    equal_nan=True, err_msg=f"{where}: column {col!r}",
                )  # fmt: skip
            else:
                left = ["<NA>" if v is None or v is pd.NA or v is pd.NaT else str(v) for v in x]
                right = ["<NA>" if v is None or v is pd.NA or v is pd.NaT else str(v) for v in y]
                assert left == right, f"{where}: column {col!r} differs"
        for key in set(a.attrs) | set(b.attrs):
            assert_same(a.attrs.get(key), b.attrs.get(key), f"{where}.attrs[{key!r}]")
        return
    if hasattr(a, "params_") and hasattr(b, "params_"):  # fitted models: by their estimates
        assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
        assert_same(a.params_, b.params_, f"{where}.params_", rtol=FIT_RTOL)
        return
    if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
        return
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        assert set(a) == set(b), f"{where}: keys {sorted(map(str, a))} != {sorted(map(str, b))}"
        for key in a:
            bound = isinstance(key, str) and key.endswith(("_lower", "_upper"))
            assert_same(a[key], b[key], f"{where}[{key!r}]", rtol=RANGE_RTOL if bound else rtol)
        return
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
        return
    if isinstance(a, float | np.floating) or isinstance(b, float | np.floating):
        fa, fb = float(a), float(b)
        if math.isnan(fa) and math.isnan(fb):
            return
        assert math.isclose(fa, fb, rel_tol=rtol, abs_tol=0), f"{where}: {fa!r} != {fb!r}"
        return
    assert a == b or (pd.isna(a) and pd.isna(b)) if np.ndim(a) == 0 else np.array_equal(a, b), (
        f"{where}: {a!r} != {b!r}"
    )
