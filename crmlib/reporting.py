"""Deprecated: the page helpers moved to :mod:`crmlib.present.page`."""

from crmlib.compat import moved

__getattr__ = moved(
    __name__,
    {
        n: "crmlib.present.page"
        for n in ("title", "section", "md_escape", "show", "Table", "MISSING")
    }
    | {"format_number": "crmlib.present.format:number"},
)
