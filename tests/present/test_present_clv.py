"""Report text of crmlib.clv (crmlib.present.clv): executive text in en/zh carries the computed
figures, tables are translated, lists export ids and scores only."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib import clv
from crmlib.present import clv as present_clv

CAL_END, OBS_END = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="module")
def check(cdnow_sample: pd.DataFrame) -> clv.Backtest:
    return clv.backtest(cdnow_sample, calibration_end=CAL_END, as_of=OBS_END)


@pytest.fixture(scope="module")
def analysis(cdnow_sample: pd.DataFrame) -> clv.Analysis:
    return clv.analyse(cdnow_sample, as_of="")


def test_backtest_text_carries_the_figures(check: clv.Backtest) -> None:
    model = check.metrics.set_index("method").loc["model"]
    en = present_clv.backtest_text(check, language="en")
    assert f"{model['total_predicted']:,.0f}" in en and "1,882" in en
    assert f"{model['error']:+.0%}" in en
    zh = present_clv.backtest_text(check, language="zh")
    assert "1,882" in zh and "模型" in zh
    table = present_clv.classification_table(check, language="zh")
    assert "准确率" in table.columns and len(table) == 2


def test_analysis_defaults_and_texts(analysis: clv.Analysis) -> None:
    assert analysis.as_of == pd.Timestamp("1998-06-30")
    assert analysis.model.kind == "bgnbd" and analysis.scores["clv"].notna().all()
    text = present_clv.clv_text(analysis.scores, language="en", top_share=0.1)
    assert f"{analysis.scores['clv'].sum():,.0f}" in text
    assert "2,357" in present_clv.model_text(analysis.model, analysis.spend_model, language="en")
    params = present_clv.parameter_table(analysis.model, analysis.spend_model, language="zh")
    assert list(params.columns)[:2] == ["参数", "估计值"] and len(params) == 7


def test_value_by_segment_uses_rfm_or_deciles(
    analysis: clv.Analysis, cdnow_sample: pd.DataFrame
) -> None:
    table, note = present_clv.value_by_segment(analysis, cdnow_sample, scheme="cn8", language="zh")
    assert table["customers"].sum() == len(analysis.scores)
    assert table["clv_total"].sum() == pytest.approx(analysis.scores["clv"].sum())
    assert "cn8" in note
    deciles, note = present_clv.value_by_segment(analysis, cdnow_sample, scheme="", language="en")
    assert deciles["customers"].sum() == len(analysis.scores) and "decile" in note


def test_export_keeps_ids_and_scores_only(analysis: clv.Analysis, tmp_path) -> None:
    risk = clv.at_risk(analysis.scores, top_share=0.1, p_alive_below=0.5)
    listed = risk.assign(name="secret", phone="123")
    note = present_clv.export_note(listed, tmp_path, name="risk", language="en")
    written = pd.read_csv(tmp_path / "risk.csv", encoding="utf-8-sig", dtype={"customer_id": str})
    assert "name" not in written.columns and "phone" not in written.columns
    assert written["customer_id"].tolist() == risk["customer_id"].tolist()
    assert "risk.csv" in note
    assert present_clv.export_note(listed, "", name="risk") == ""


@pytest.mark.parametrize("language", ["en", "zh"])
def test_export_path_stays_text(language: str, tmp_path) -> None:
    import mistune
    from bs4 import BeautifulSoup

    path = tmp_path / "<img src=x onerror=alert(1)>" / "双11*狂欢_.csv"
    html = mistune.html(present_clv.export_text(path, language=language))
    assert "<img" not in html
    assert str(path) in BeautifulSoup(html, "html.parser").get_text()
