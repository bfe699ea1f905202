"""Member master data, service touchpoints and the online funnel of the demo retailer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from crmlib.simulate.calendar import Calendar

__all__ = [
    "take_text",
    "customers_table",
    "complaint_flags",
    "touchpoints_table",
    "events_table",
    "to_timestamps",
]


_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
_GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉宇浩然子轩梓涵欣怡雨"
)
# city, postcode prefix, districts (the chain's store cities)
_CITIES = [
    ("上海市", "200", ["徐汇区", "静安区", "浦东新区", "杨浦区", "闵行区"]),
    ("北京市", "100", ["朝阳区", "海淀区", "西城区", "东城区", "丰台区"]),
    ("广州市", "510", ["天河区", "越秀区", "海珠区", "白云区"]),
    ("深圳市", "518", ["南山区", "福田区", "罗湖区", "宝安区"]),
    ("杭州市", "310", ["西湖区", "上城区", "拱墅区", "滨江区"]),
    ("南京市", "210", ["鼓楼区", "玄武区", "秦淮区", "建邺区"]),
    ("苏州市", "215", ["姑苏区", "工业园区", "吴中区"]),
    ("成都市", "610", ["锦江区", "武侯区", "青羊区", "高新区"]),
    ("重庆市", "400", ["渝中区", "江北区", "南岸区"]),
    ("武汉市", "430", ["江汉区", "武昌区", "洪山区"]),
    ("西安市", "710", ["碑林区", "雁塔区", "未央区"]),
    ("天津市", "300", ["和平区", "河西区", "南开区"]),
    ("长沙市", "410", ["芙蓉区", "岳麓区", "天心区"]),
    ("郑州市", "450", ["金水区", "二七区", "中原区"]),
    ("青岛市", "266", ["市南区", "市北区", "崂山区"]),
    ("厦门市", "361", ["思明区", "湖里区", "集美区"]),
]
_ROADS = list(
    [
        "人民路",
        "中山路",
        "解放路",
        "建设路",
        "和平路",
        "长江路",
        "黄河路",
        "新华路",
        "文化路",
        "青年路",
        "胜利路",
        "友谊路",
    ]
)
_MOBILE = np.array(
    [130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 156, 157, 158, 159, 166, 170,
     176, 177, 180, 181, 182, 183, 185, 186, 187, 188, 189, 191, 198, 199]
)  # fmt: skip
_MAIL = np.array(["qq.com", "163.com", "126.com", "gmail.com", "sina.com", "outlook.com"])
_MAIL_SHARE = np.array([0.45, 0.25, 0.1, 0.06, 0.06, 0.08])

_CONTENT = {
    "registration": ["注册会员", "扫码注册会员", "小程序授权注册"],
    "inquiry": [
        "咨询商品库存",
        "咨询发货时间",
        "咨询会员积分规则",
        "咨询退换货政策",
        "咨询发票开具",
    ],
    "activity_query": ["查询双11活动规则", "查询优惠券使用条件", "查询会员日活动", "查询满减规则"],
    "complaint": [
        "投诉快递延误",
        "投诉商品质量问题",
        "投诉客服态度",
        "投诉退款太慢",
        "投诉少发漏发",
    ],
    "message_click": ["点击活动短信链接", "点击微信推送", "点击邮件优惠券", "打开App推送"],
}


def take_text(values: Any, idx: np.ndarray) -> pd.Series:
    """``values[idx]`` as an Arrow-backed string Series; a negative index gives a missing value."""
    if not isinstance(values, pa.Array):
        values = pa.array(np.asarray(values, dtype=object), type=pa.string())
    idx = np.asarray(idx, dtype=np.int64)
    return values.take(pa.array(idx, mask=idx < 0)).to_pandas()


def _pick(rng: np.random.Generator, values: list[str] | np.ndarray, n: int) -> pd.Series:
    return take_text(values, rng.integers(0, len(values), n))


def _letters(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    codes = rng.integers(97, 123, size=(n, width), dtype=np.uint8)
    return codes.view(f"S{width}").ravel().astype(str)


def customers_table(
    rng: np.random.Generator,
    ids: pa.Array,
    acquired: pd.Series,
    spend: np.ndarray,
    source_channel: pd.Series,
    cfg: dict[str, Any],
) -> pd.DataFrame:
    """Member master data in canonical columns (Chinese member-level labels).

    Parameters
    ----------
    ids
        Member ids.
    acquired
        Timestamp of each member's first order.
    spend
        Net spend of each member over the period (yuan), which sets the member level and points.
    source_channel
        Chinese label of the channel each member joined through.
    """
    n = len(ids)
    ccfg = cfg["customers"]
    given_len = rng.choice([1, 2], size=n, p=[0.3, 0.7])
    name = _pick(rng, _SURNAMES, n) + _pick(rng, _GIVEN, n)
    second = _pick(rng, _GIVEN, n)
    name = name.where(given_len == 1, name + second)

    mobile = take_text(_MOBILE.astype(str), rng.integers(0, len(_MOBILE), n))
    digits = pd.Series(rng.integers(0, 100_000_000, n)).astype(str).str.zfill(8)
    plain = mobile + digits
    spaced = mobile + " " + digits.str[:4] + " " + digits.str[4:]
    style = rng.random(n)
    phone = plain.where(style < 0.8, spaced.where(style < 0.95, "+86 " + plain))

    user = pd.Series(_letters(rng, n, 6), dtype="str") + pd.Series(
        rng.integers(0, 10_000, n)
    ).astype(str)
    domain = take_text(_MAIL, rng.choice(len(_MAIL), size=n, p=_MAIL_SHARE))
    email = (user + "@" + domain).where(rng.random(n) < ccfg["email_share"], None)

    city = rng.integers(0, len(_CITIES), n)
    # district drawn within the member's city, from one flat list of all cities' districts
    sizes = np.array([len(c[2]) for c in _CITIES])
    first = np.cumsum(np.r_[0, sizes[:-1]])
    district = first[city] + (rng.random(n) * sizes[city]).astype(np.int64)
    flat = [d for c in _CITIES for d in c[2]]
    number = pd.Series(rng.integers(1, 999, n)).astype(str)
    address = (
        take_text([c[0] for c in _CITIES], city)
        + take_text(flat, district)
        + _pick(rng, _ROADS, n)
        + number
        + "号"
    )
    postcode = take_text([c[1] for c in _CITIES], city) + pd.Series(
        rng.integers(0, 1000, n)
    ).astype(str).str.zfill(3)

    lead = rng.uniform(0, float(ccfg["signup_lead_days"]), n)
    signup = acquired - pd.to_timedelta(np.round(lead * 86400), unit="s")
    born = pd.Timestamp("1955-01-01") + pd.to_timedelta(rng.integers(0, 365 * 50, n), unit="D")
    birthday = pd.Series(born.date, dtype=object).where(
        rng.random(n) < ccfg["birthday_share"], None
    )

    levels = ccfg["member_levels"]
    mins = np.array([lv["min_spend"] for lv in levels], dtype=float)
    level_idx = np.searchsorted(mins, spend, side="right") - 1
    level = take_text([lv["label"] for lv in levels], np.maximum(level_idx, 0))
    points = np.floor(np.maximum(spend, 0) * (1.0 - rng.uniform(0.0, 0.6, n)))

    return pd.DataFrame(
        {
            "customer_id": ids.to_pandas(),
            "name": name,
            "phone": phone,
            "email": email,
            "address": address,
            "postcode": postcode,
            "source_channel": source_channel,
            "signup_at": signup.to_numpy(),
            "birthday": birthday,
            "member_level": level,
            "points": points,
        }
    )


def complaint_flags(rng: np.random.Generator, p: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
    """Planted complaints: P(complaint) = base + slope x dropout probability p."""
    tp = cfg["touchpoints"]
    prob = np.clip(tp["complaint_base"] + tp["complaint_slope"] * p, 0.0, 1.0)
    return rng.random(len(p)) < prob


def touchpoints_table(
    rng: np.random.Generator,
    ids: pa.Array,
    signup_t: np.ndarray,
    acquired_t: np.ndarray,
    last_t: np.ndarray,
    dropped: np.ndarray,
    complained: np.ndarray,
    clicks: pd.DataFrame,
    cfg: dict[str, Any],
    cal: Calendar,
) -> pd.DataFrame:
    """Registrations, inquiries, activity queries, complaints and message clicks.

    Times are calendar days since the period start. A complaint of a member who dropped out
    falls in the 30 days before the member's last order; others fall anywhere after the first
    order. ``clicks`` holds ``customer`` and ``t`` of campaign message clicks.
    """
    n = len(ids)
    tp = cfg["touchpoints"]
    channels = np.asarray(tp["channels"], dtype=object)
    parts: list[tuple[np.ndarray, np.ndarray, str]] = [(np.arange(n), signup_t, "registration")]
    tenure = np.maximum(cal.days - acquired_t, 0.0)
    for kind, rate in (
        ("inquiry", tp["inquiries_per_customer"]),
        ("activity_query", tp["activity_queries_per_customer"]),
    ):
        count = rng.poisson(rate * tenure / cal.days)
        who = np.repeat(np.arange(n), count)
        t = acquired_t[who] + rng.random(len(who)) * tenure[who]
        parts.append((who, t, kind))
    who = np.flatnonzero(complained)
    t_alive = acquired_t[who] + rng.random(len(who)) * tenure[who]
    t_drop = np.maximum(last_t[who] - rng.uniform(0.0, 30.0, len(who)), acquired_t[who])
    parts.append((who, np.where(dropped[who], t_drop, t_alive), "complaint"))
    parts.append((clicks["customer"].to_numpy(), clicks["t"].to_numpy(), "message_click"))

    kinds = list(_CONTENT)
    who = np.concatenate([p[0] for p in parts])
    t = np.concatenate([p[1] for p in parts])
    kind = np.concatenate([np.full(len(p[0]), kinds.index(p[2])) for p in parts])
    keep = t < cal.days
    sort = np.lexsort((who[keep], t[keep]))
    who, t, kind = who[keep][sort], t[keep][sort], kind[keep][sort]
    # content: one of the kind's texts, as an index into all texts
    texts = [text for k in kinds for text in _CONTENT[k]]
    first = np.cumsum([0] + [len(_CONTENT[k]) for k in kinds])
    sizes = np.diff(first)
    content = first[kind] + (rng.random(len(kind)) * sizes[kind]).astype(np.int64)
    return pd.DataFrame(
        {
            "customer_id": take_text(ids, who),
            "occurred_at": to_timestamps(cal, t),
            "channel": take_text(channels, rng.integers(0, len(channels), len(kind))),
            "kind": take_text(kinds, kind),
            "content": take_text(texts, content),
        }
    )


def events_table(
    rng: np.random.Generator,
    ids: pa.Array,
    paid_customer: np.ndarray,
    paid_t: np.ndarray,
    online_customers: np.ndarray,
    cfg: dict[str, Any],
    cal: Calendar,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Funnel sessions (visit -> view -> cart -> pay) of the last months of the period.

    Paid sessions are the members' online orders of the window; sessions that stop at an earlier
    stage are added so that the stage conversion rates equal the planted ones.
    """
    fcfg = cfg["funnel"]
    conv = fcfg["conversion"]
    start = cal.start + pd.DateOffset(days=cal.days) - pd.DateOffset(months=fcfg["months"])
    t_start = float((start - cal.start).days)
    n_pay = len(paid_t)
    n_cart = int(round(n_pay / conv["cart_to_pay"]))
    n_view = int(round(n_cart / conv["view_to_cart"]))
    n_visit = int(round(n_view / conv["visit_to_view"]))
    stops = np.concatenate(
        [
            np.full(max(n_visit - n_view, 0), 1),
            np.full(max(n_view - n_cart, 0), 2),
            np.full(max(n_cart - n_pay, 0), 3),
        ]
    ).astype(np.int64)
    if not len(online_customers):
        stops = stops[:0]
    pool = online_customers if len(online_customers) else np.zeros(1, dtype=np.int64)
    who = np.concatenate([paid_customer, pool[rng.integers(0, len(pool), len(stops))]])
    t_end = np.concatenate([paid_t, t_start + rng.random(len(stops)) * (cal.days - t_start)])
    depth = np.concatenate([np.full(n_pay, 4), stops])
    # steps of a session end at t_end; earlier steps a few minutes before
    session = np.repeat(np.arange(len(depth)), depth)
    step = np.arange(len(session)) - np.repeat(np.cumsum(depth) - depth, depth)
    gap = rng.uniform(0.5, 6.0, len(session)) / 1440.0
    back = (np.repeat(depth, depth) - 1 - step) * gap
    t = np.maximum(t_end[session] - back, t_start)
    sort = np.lexsort((who[session], t))
    frame = pd.DataFrame(
        {
            "customer_id": take_text(ids, who[session][sort]),
            "occurred_at": to_timestamps(cal, t[sort]),
            "event": take_text(["visit", "view", "cart", "pay"], step[sort]),
        }
    )
    counts = {"visit": len(depth), "view": int((depth >= 2).sum()), "cart": int((depth >= 3).sum()),
              "pay": int((depth >= 4).sum())}  # fmt: skip
    planted = {
        "window_start": str(start.date()),
        "conversion": {k: float(v) for k, v in conv.items()},
        "sessions": counts,
    }
    return frame, planted


def to_timestamps(cal: Calendar, t: np.ndarray) -> np.ndarray:
    """Calendar days since the period start -> datetime64[s] (naive local time)."""
    seconds = np.floor(np.asarray(t, dtype=float) * 86400.0).astype(np.int64)
    return np.datetime64(cal.start.to_datetime64(), "s") + seconds.astype("timedelta64[s]")
