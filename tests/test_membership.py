"""crmlib.membership.isin gives pandas' answer, by Arrow, for every kind of column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib.membership import isin

STRINGS = pd.Series(["C1", None, "C2", "C3", np.nan, "C1"], dtype="str")


@pytest.mark.parametrize(
    "wanted",
    [
        ["C1", "C3"],
        {"C2"},
        pd.Index(["C3", "C9"]),
        pd.Series(["C1"], dtype="str"),
        np.array(["C2", "C1"], dtype=object),
        ["C1", None],
        [],
        [1, 2],
        ["C1", 1],
    ],
    ids=["list", "set", "index", "series", "array", "with None", "empty", "numbers", "mixed"],
)
def test_strings_as_pandas(wanted) -> None:
    np.testing.assert_array_equal(isin(STRINGS, wanted), STRINGS.isin(wanted).to_numpy())


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["a", "b", None], dtype=object),
        pd.Index(["a", "b", "c"], dtype="str"),
        pd.Series(["a", "b", "a"], dtype="category"),
        pd.Series([1, 2, 3]),
        pd.Series([1.5, np.nan, 3.0]),
    ],
    ids=["object", "index", "category", "integers", "floats"],
)
def test_other_columns_as_pandas(values) -> None:
    for wanted in (["a", "c"], [1, 3.0], [None]):
        np.testing.assert_array_equal(isin(values, wanted), np.asarray(values.isin(wanted)))


def test_a_million_ids() -> None:
    ids = pd.Series(np.char.add("C", np.arange(1_000_000).astype(str)), dtype="str")
    wanted = ids.sample(300_000, random_state=1)
    got = isin(ids, wanted)
    assert got.sum() == 300_000
    assert got[wanted.index.to_numpy()].all()
