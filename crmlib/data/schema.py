"""The canonical tables of the data contract: their columns and types, and facts about them.

Users map their own column names onto these in ``params/data.yaml``; nothing downstream sees
the source names. This module holds only constants, so every other module can import it.
"""

from __future__ import annotations

__all__ = [
    "SCHEMAS",
    "REQUIRED",
    "PERSONAL_FIELDS",
    "REPORT_HIDDEN_FIELDS",
    "GROUPS",
    "KEYS",
    "EVENT_TIME",
]

#: Canonical schema of every table: column -> Ibis type. The columns listed in :data:`REQUIRED`
#: must be present in a source; the rest are filled with nulls when absent.
SCHEMAS: dict[str, dict[str, str]] = {
    "transactions": {
        "customer_id": "string",  # empty = anonymous sale
        "order_id": "string",
        "ordered_at": "timestamp",
        "amount": "float64",  # net paid; negative = return
        "quantity": "int64",
        "sku": "string",
        "product_name": "string",  # shown instead of the sku where mapped
        "category": "string",
        "department": "string",  # category hierarchy: department > category > subcategory
        "subcategory": "string",
        "channel": "string",
        "store": "string",
        "coupon_code": "string",
        "sales_rep": "string",
    },
    "customers": {
        "customer_id": "string",
        "name": "string",
        "phone": "string",
        "email": "string",
        "address": "string",
        "postcode": "string",
        "source_channel": "string",
        "signup_at": "timestamp",
        "birthday": "date",
        "member_level": "string",
        "points": "float64",
    },
    "touchpoints": {
        "customer_id": "string",
        "occurred_at": "timestamp",
        "channel": "string",
        "kind": "string",
        "content": "string",
    },
    "campaigns": {
        "campaign_id": "string",
        "name": "string",
        "channel": "string",
        "starts_at": "timestamp",
        "ends_at": "timestamp",
        "coupon_code": "string",
        "partner": "string",
    },
    "campaign_members": {
        "campaign_id": "string",
        "customer_id": "string",
        "group": "string",  # target or control
        "sent_at": "timestamp",
    },
    "coupon_redemptions": {
        "customer_id": "string",
        "redeemed_at": "timestamp",
        "campaign_id": "string",  # the campaign whose coupon was redeemed, or:
        "coupon_code": "string",  # the code, matched with campaigns.coupon_code
        "order_id": "string",
    },
    "events": {
        "customer_id": "string",
        "occurred_at": "timestamp",
        "event": "string",  # visit, view, cart, pay
    },
}

#: Columns a source must provide for each table.
REQUIRED: dict[str, tuple[str, ...]] = {
    "transactions": ("customer_id", "order_id", "ordered_at", "amount"),
    "customers": ("customer_id",),
    "touchpoints": ("customer_id", "occurred_at", "kind"),
    "campaigns": ("campaign_id",),
    "campaign_members": ("campaign_id", "customer_id"),  # group: default_group when absent
    "coupon_redemptions": ("customer_id", "redeemed_at"),
    "events": ("customer_id", "occurred_at", "event"),
}

#: Personal fields that reports mask unless a report explicitly asks for them.
PERSONAL_FIELDS: tuple[str, ...] = ("name", "phone", "email", "address", "postcode", "birthday")

#: Free-text and staff columns a report leaves out of quarantine samples unless asked
#: (``Dataset.quarantined`` with ``unmapped=True``): message text can hold anything a
#: customer wrote, and sales_rep names an employee.
REPORT_HIDDEN_FIELDS: dict[str, tuple[str, ...]] = {
    "transactions": ("sales_rep",),
    "touchpoints": ("content",),
}

#: Canonical values of ``campaign_members.group``.
GROUPS: tuple[str, ...] = ("target", "control")

#: Key columns that identify one row; later rows repeating a key are quarantined as
#: ``duplicate_key`` (the first row with the key that passes every other rule is kept).
KEYS: dict[str, str] = {
    "customers": "customer_id",
    "campaigns": "campaign_id",
}

#: The column whose date decides ``future_date`` per table.
EVENT_TIME: dict[str, str] = {
    "transactions": "ordered_at",
    "touchpoints": "occurred_at",
    "events": "occurred_at",
    "coupon_redemptions": "redeemed_at",
}
