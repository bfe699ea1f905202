"""crmlib.membership gives pandas' answers (isin, a left merge's labels), by Arrow, for every
kind of column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib.membership import ascending, isin, lookup_labels, positions

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


def _merged_labels(values: pd.Series, table: pd.DataFrame) -> list[str]:
    """What a left merge on the first row of each key gives, the old way of labelling rows."""
    first = table.drop_duplicates("id")
    merged = pd.DataFrame({"id": values}).merge(first, on="id", how="left")
    return merged["label"].astype("string").fillna("none").tolist()


@pytest.mark.parametrize(
    "dtype", ["str", object, "int64"], ids=["arrow strings", "objects", "integers"]
)
def test_labels_as_a_left_merge(dtype) -> None:
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 400, 300)  # duplicate keys: the first row counts
    table = pd.DataFrame({"id": keys, "label": rng.choice(["b", "a", None, "c"], 300)})
    values = pd.Series(rng.integers(0, 500, 2_000))  # some never in the table
    if dtype != "int64":
        table["id"] = table["id"].map("K{}".format).astype(dtype)
        values = values.map("K{}".format).astype(dtype)
    got = lookup_labels(values, table, key="id", column="label", missing="none")
    assert list(got) == _merged_labels(values, table)
    assert list(got.categories) == sorted(set(got))


def test_positions_first_key_and_missing() -> None:
    keys = pd.Series(["a", "b", "a", None], dtype="str")
    values = pd.Series(["a", None, "b", "z"], dtype="str")
    np.testing.assert_array_equal(positions(values, keys), [0, -1, 1, -1])
    np.testing.assert_array_equal(
        positions(pd.Series([2.0, np.nan, 5.0]), pd.Series([5.0, 2.0, 2.0])), [1, -1, 0]
    )


def test_labels_of_an_empty_table() -> None:
    table = pd.DataFrame({"id": pd.Series([], dtype="str"), "label": pd.Series([], dtype="str")})
    got = lookup_labels(pd.Series(["x", "y"], dtype="str"), table, key="id", column="label",
                        missing="none")  # fmt: skip
    assert list(got) == ["none", "none"]


@pytest.mark.parametrize(
    "keys",
    [
        ["a", "b", "c", "d"],  # the same ids in the same order: each at its own position
        ["a", "b", "b", "d"],  # a key listed twice: the first one counts
        ["b", "a", "c", "d"],  # not in increasing order
        ["a", "b", "c", None],  # a missing key
        ["a", "b", "c"],  # another length
    ],
    ids=["same", "duplicate", "unsorted", "missing", "shorter"],
)
def test_positions_of_a_table_of_the_same_ids_are_those_hashing_gives(keys) -> None:
    """The shortcut for a summary and a table of the same customers in the same order gives
    what looking each id up gives, and is not taken when any condition fails."""
    values = pd.Series(["a", "b", "c", "d"] if len(keys) == 4 else ["a", "b", "c"], dtype="str")
    if keys[1] == keys[2]:
        values = pd.Series(keys, dtype="str")
    table = pd.Series(keys, dtype="str")
    wanted = [next((i for i, k in enumerate(keys) if k == v), -1) if isinstance(v, str) else -1
              for v in values]  # fmt: skip
    np.testing.assert_array_equal(positions(values, table), wanted)


@pytest.mark.parametrize(
    "values",
    [
        ["a", "b", "b", "c"],
        ["a", "c", "b"],
        ["b", "a"],
        ["a", None, "b"],
        ["é", "z"],
        ["z", "é"],
        ["x"],
        [],
        [1, 2, 2, 5],
        [3, 1],
    ],
)
@pytest.mark.parametrize("dtype", ["str", "object"])
def test_ascending_as_pandas_is_monotonic_increasing(values, dtype) -> None:
    series = pd.Series(values, dtype=dtype if all(isinstance(v, str) for v in values) else None)
    assert ascending(series) == series.is_monotonic_increasing
