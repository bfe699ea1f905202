"""Old names and keywords of crmlib.clv keep working, with a DeprecationWarning."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib import clv
from crmlib.clv import likelihoods, rows, settings, workflow
from crmlib.present import clv as present_clv


def _tx() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["A", "A", "B"],
            "order_id": ["1", "2", "3"],
            "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-03"]),
            "amount": [10.0, 20.0, 5.0],
        }
    )


def test_moved_names_warn_and_resolve() -> None:
    with pytest.warns(DeprecationWarning, match="crmlib.present.clv"):
        assert clv.text.backtest_text is present_clv.backtest_text
    with pytest.warns(DeprecationWarning, match="crmlib.clv.settings"):
        assert clv.load_params is settings.load_params
    with pytest.warns(DeprecationWarning, match="crmlib.present.clv"):
        assert clv.value_by_segment is present_clv.value_by_segment
    with pytest.warns(DeprecationWarning, match="crmlib.present.clv"):
        assert workflow.export_note is present_clv.export_note
    from crmlib.clv import models

    with pytest.warns(DeprecationWarning, match="crmlib.clv.rows"):
        assert models.compress is rows.compress
    with pytest.warns(DeprecationWarning, match="crmlib.clv.likelihoods"):
        assert clv.bgnbd_log_likelihood is likelihoods.bgnbd_log_likelihood
    with pytest.raises(AttributeError):
        clv.no_such_name  # noqa: B018


def test_observation_end_keyword_is_an_alias_of_as_of() -> None:
    tx = _tx()
    new = clv.summary(tx, as_of="2024-01-10", time_unit="D")
    with pytest.warns(DeprecationWarning, match="'observation_end' is deprecated"):
        old = clv.summary(tx, observation_end="2024-01-10", time_unit="D")
    pd.testing.assert_frame_equal(old, new)
    with pytest.raises(TypeError, match="both"):
        clv.summary(tx, as_of="2024-01-10", observation_end="2024-01-10")
    with pytest.raises(TypeError, match="as_of"):
        clv.summary(tx)
    with pytest.raises(TypeError, match="unexpected keyword argument 'when'"):
        clv.summary(tx, as_of="2024-01-10", when="x")
    day = pd.Timestamp("2024-01-10")
    result = clv.Analysis(day, new, None, None, new, {})
    with pytest.warns(DeprecationWarning, match="as_of"):
        assert result.observation_end == day


def test_rfm_segments_language_keyword_names_the_segments() -> None:
    tx = _tx()
    keys = workflow.rfm_segments(tx, as_of="2024-01-10", scheme="cn8")
    with pytest.warns(DeprecationWarning, match="language"):
        named = workflow.rfm_segments(tx, as_of="2024-01-10", scheme="cn8", language="zh")
    expected = present_clv.segment_names(keys, scheme="cn8", language="zh")
    pd.testing.assert_frame_equal(named, expected)
    assert set(keys["segment"]) != set(named["segment"])
