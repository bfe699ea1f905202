"""The data's currency: set in the data params, used wherever money is written."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib import currency as cur
from crmlib.data import load_dataset
from crmlib.errors import ConfigError
from crmlib.present.format import money, money_short


@pytest.fixture(autouse=True)
def _default_currency():
    """Each test starts and ends in the default currency (the setting is per process)."""
    cur.use_currency(None)
    yield
    cur.use_currency(None)


def test_known_codes_and_custom_currencies():
    assert cur.currency("usd") == cur.Currency("USD", "$", "US dollars", "美元")
    assert cur.currency(None).code == cur.DEFAULT_CODE == "CNY"
    eur = cur.currency({"code": "EUR", "symbol": "EUR "})
    assert (eur.symbol, eur.name("zh")) == ("EUR ", "欧元")
    myr = cur.currency({"code": "MYR", "symbol": "RM", "name": {"en": "ringgit", "zh": "林吉特"}})
    assert (myr.symbol, myr.name("en"), myr.name("zh")) == ("RM", "ringgit", "林吉特")
    with pytest.raises(ConfigError, match="MYR is not one of.*give its symbol"):
        cur.currency("MYR")
    with pytest.raises(ConfigError, match="three letters.*'DOLLARS'"):
        cur.currency("dollars")
    with pytest.raises(ConfigError, match="unknown key.*sign"):
        cur.currency({"code": "USD", "sign": "$"})


def test_money_follows_the_current_currency():
    assert money(12345.6) == "¥12,346"
    cur.use_currency("USD")
    assert money(12345.6) == "$12,346"
    assert money(-0.3) == "$0"
    assert money(12345.6, symbol="") == "12,346"
    assert money(float("nan")) == "–"


def test_large_sums_scaled_per_language():
    """万 = 10^4 and 亿 = 10^8 in Chinese; k, M, B in English; small sums in full."""
    assert money_short(123_456, "zh") == "¥12.3万"
    assert money_short(345_000_000, "zh") == "¥3.5亿"
    assert money_short(9_999, "zh") == "¥9,999"
    cur.use_currency("USD")
    assert money_short(123_456, "en") == "$123.5k"
    assert money_short(2_500_000, "en") == "$2.5M"
    assert money_short(-2_500_000, "en") == "-$2.5M"
    assert money_short(999, "en") == "$999"
    assert cur.scale(float("inf"), "en") == (float("inf"), "")


def test_load_dataset_makes_the_data_currency_current(tmp_path):
    """A USD export: after the load, money is written with $; the cache is not rebuilt."""
    tx = tmp_path / "tx.csv"
    tx.write_text(
        "customer_id,order_id,ordered_at,amount\nC1,O1,2024-01-05 10:00,12.5\n", encoding="utf-8"
    )
    params = {
        "transactions": {"path": str(tx)},
        "quarantine_dir": str(tmp_path / "q"),
        "cache_dir": str(tmp_path / "cache"),
        "currency": "USD",
    }
    first = load_dataset(params)
    assert money(1200) == "$1,200"
    assert first.source["currency"]["symbol"] == "$"
    second = load_dataset({**params, "currency": {"code": "EUR"}})
    assert money(1200) == "€1,200"
    assert second.fingerprint == first.fingerprint  # money's symbol does not change the data
    with pytest.raises(ConfigError, match="currency code"):
        load_dataset({**params, "currency": "$"})


def test_mapping_typos_get_a_suggestion(tmp_path):
    """`amount: sales_val` on a file with `sales_value`: the error suggests the header's name."""
    from crmlib.errors import DataError

    tx = tmp_path / "tx.csv"
    tx.write_text("household,basket,day,sales_value\nH1,B1,2024-01-05,12.5\n", encoding="utf-8")
    columns = {"customer_id": "household", "order_id": "basket", "ordered_at": "day"}
    params = {
        "transactions": {"path": str(tx), "columns": {**columns, "amount": "sales_val"}},
        "quarantine_dir": str(tmp_path / "q"),
        "cache_dir": str(tmp_path / "cache"),
    }
    with pytest.raises(DataError, match=r"did you mean 'sales_value'\?.*columns found"):
        load_dataset(params, cache=False)
    with pytest.raises(ConfigError, match=r"transaction.*did you mean 'transactions'\?"):
        load_dataset({"transaction": params["transactions"], "transactions": {"path": str(tx)}})
    with pytest.raises(ConfigError, match=r"amont.*did you mean 'amount'\?"):
        load_dataset({"transactions": {"path": str(tx), "columns": {"amont": "sales_value"}}})
    with pytest.raises(ConfigError, match=r"encodng.*did you mean 'encoding'\?"):
        load_dataset({"transactions": {"path": str(tx), "encodng": "gbk"}})


def test_chart_axes_and_findings_follow_the_currency():
    """The channel chart's axis was '¥10k' for any data; findings wrote revenue without unit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from crmlib.plots.campaigns import channel_revenue

    trends = pd.DataFrame(
        {
            "period": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-01"]),
            "channel": ["store", "store", "web"],
            "revenue": [12000.0, 15000.0, 3000.0],
        }
    )
    cur.use_currency("USD")
    assert cur.axis_unit("en") == (1e3, "$ thousands")
    assert cur.axis_unit("zh") == (1e4, "万美元")
    ax = channel_revenue(trends, language="en")
    assert ax.get_ylabel().endswith("($ thousands)")
    plt.close(ax.figure)
    cur.use_currency("CNY")
    ax = channel_revenue(trends, language="zh")
    assert ax.get_ylabel().endswith("(万元)")
    plt.close(ax.figure)
