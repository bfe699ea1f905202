"""Old names of the data layer still work for a release, with a DeprecationWarning."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crmlib import data
from crmlib.data.privacy import mask_text
from crmlib.data.quality import QualityReport, TableQuality
from crmlib.data.rules import check_rules
from crmlib.present import quality as words

CHANNELS = Path(__file__).resolve().parents[2] / "params" / "channels.yaml"


def _params(tmp_path: Path) -> dict:
    path = tmp_path / "tx.csv"
    path.write_text(
        "customer_id,order_id,ordered_at,amount,phone\n"
        "C1,O1,2024-01-05,10,13812341234\nC2,O2,bad,5,13900001111\n",
        encoding="utf-8",
    )
    return {
        "transactions": {"path": str(path)},
        "cleaning": {"channels_file": str(CHANNELS), "max_date": "2030-01-01"},
        "quarantine_dir": str(tmp_path / "quarantine"),
        "cache_dir": str(tmp_path / "cache"),
    }


def test_old_modules_serve_the_moved_names():
    import crmlib.cleaning
    import crmlib.privacy
    import crmlib.quality

    with pytest.deprecated_call(match="crmlib.data.rules"):
        assert crmlib.cleaning.check_rules is check_rules
    with pytest.deprecated_call(match="crmlib.data.quality"):
        assert crmlib.quality.QualityReport is QualityReport
    with pytest.deprecated_call(match="crmlib.present.quality"):
        assert crmlib.quality.kind_label("unparseable_amount", "zh") == "金额无法解析"
    with pytest.deprecated_call(match="crmlib.data.privacy"):
        assert crmlib.privacy.mask_text is mask_text
    with pytest.raises(AttributeError):
        crmlib.quality.no_such_name  # noqa: B018


def test_quality_report_words_in_a_language_delegate_to_present():
    report = QualityReport(
        {"transactions": TableQuality("transactions", "x.csv", 3, 2, rejected={"return": 1})}
    )
    with pytest.deprecated_call():
        old = report.to_frame("zh")
    pd.testing.assert_frame_equal(old, words.quality_table(report, language="zh"))
    with pytest.deprecated_call():
        old = report.summary("en")
    pd.testing.assert_frame_equal(old, words.quality_summary(report, language="en"))
    with pytest.deprecated_call():
        assert report.to_text("zh") == words.quality_text(report, language="zh")
    with pytest.deprecated_call():
        assert report.to_markdown() == words.quality_markdown(report, language="en")


def test_old_data_call_forms(tmp_path):
    p = _params(tmp_path)
    with pytest.deprecated_call(match="validate_source"):
        validate = data.validate
    assert validate(p, language="zh") == words.validate_source(p, language="zh")

    ds = data.load_dataset(p, cache=False)
    with pytest.deprecated_call(match="quarantine_table"):
        old = ds.quarantined("transactions", language="en")
    new = words.quarantine_table(ds.quarantined("transactions"), language="en")
    pd.testing.assert_frame_equal(old, new)
    assert old.columns[:2].tolist() == ["Source row", "Reason"]

    tx = data.execute(ds.transactions)
    with pytest.deprecated_call(match="observation_end"):
        old = data.customer_summary(tx, observation_end="2024-01-31")
    pd.testing.assert_frame_equal(old, data.customer_summary(tx, as_of="2024-01-31"))
    assert old.attrs["observation_end"] == pd.Timestamp("2024-01-31")


def test_channel_label_moved_from_the_quality_charts():
    from crmlib.plots import quality as qplots

    with pytest.deprecated_call(match="crmlib.present.quality"):
        label = qplots.channel_label("store", language="zh")
    assert label == words.channel_label("store", language="zh")
