"""Customer segments: schemes that map RFM scores to segments, and the segments themselves.

A scheme is data, not code: ``params/segments.yaml`` ships the Chinese eight-segment scheme
``cn8`` and the eleven-segment ``en11``, and a user can add their own in YAML.

1. :func:`load_scheme` reads and validates a scheme (every combination of scores must fall into
   exactly one segment); :func:`scheme_names` lists the schemes on offer.
2. :func:`segment_rfm` scores an RFM table (:func:`crmlib.rfm.score_rfm`) and assigns every
   customer a segment (:func:`assign_segments`).
3. :func:`export_segments` writes the customer lists.

Results carry segment keys, never display names: :mod:`crmlib.present.rfm` adds the names and
actions in the report's language. Customers and revenue per segment: :mod:`crmlib.value`.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.compat import renamed_keyword
from crmlib.config import load_params, read_yaml, resolve_path
from crmlib.data import PERSONAL_FIELDS, as_table, execute
from crmlib.data.privacy import spreadsheet_safe
from crmlib.errors import ConfigError, DataError
from crmlib.rfm import SCORINGS, check_scoring, score_rfm

__all__ = [
    "PARAMS_FILE",
    "Scheme",
    "Segmentation",
    "check_bilingual",
    "scheme_names",
    "load_scheme",
    "assign_segments",
    "check_segmentation",
    "segment_rfm",
    "export_segments",
]

#: The params file holding the segment schemes, the value matrix and the Pareto norms.
PARAMS_FILE = "segments.yaml"
#: Score columns a scheme's cells can be built from (``fm`` = ceil((f + m) / 2)).
_DIMENSIONS = ("r", "f", "m", "fm")


def _no_other_keywords(function: str, kwargs: Mapping[str, Any]) -> None:
    if kwargs:
        raise TypeError(f"{function}() got an unexpected keyword argument {next(iter(kwargs))!r}")


def _params_source(params: Any) -> str:
    """How the error messages name where the schemes came from."""
    if params is None:
        return PARAMS_FILE
    if isinstance(params, Mapping):
        return f"{PARAMS_FILE} with the call's params"
    return f"{PARAMS_FILE} with {str(params)!r}"


# --------------------------------------------------------------------------------------------
# Schemes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scheme:
    """A validated segment scheme (see ``params/segments.yaml``).

    Attributes
    ----------
    key
        Name of the scheme (``"cn8"``, ``"en11"`` or the user's).
    name
        ``{"en": ..., "zh": ...}`` title.
    dimensions
        Score columns the cells are built from (``r``, ``f``, ``m``, ``fm``).
    levels
        Label of score 1, 2, ... on every dimension.
    scoring
        Default scoring (``quantile``, ``edges`` or ``highlow``).
    segments
        One row per segment in display order: ``segment``, ``order``, ``name_en``, ``name_zh``,
        ``action_en``, ``action_zh``, ``colour``, ``cells`` (list of cell codes).
    """

    key: str
    name: dict[str, str]
    dimensions: tuple[str, ...]
    levels: tuple[str, ...]
    scoring: str
    segments: pd.DataFrame

    @property
    def cell_map(self) -> dict[str, str]:
        """Cell code -> segment key."""
        return {c: row.segment for row in self.segments.itertuples() for c in row.cells}

    @property
    def cells(self) -> list[str]:
        """Every cell code of the scheme, in score order (``"LLL"``, ``"LLH"`` … or ``"11"`` …)."""
        return ["".join(c) for c in product(self.levels, repeat=len(self.dimensions))]

    def segment_name(self, segment: str, *, language: str = "en") -> str:
        """Deprecated: use :func:`crmlib.present.rfm.segment_name`."""
        warnings.warn(
            "Scheme.segment_name() is deprecated; use "
            "crmlib.present.rfm.segment_name(scheme, segment, language=...)",
            DeprecationWarning,
            stacklevel=2,
        )
        present = importlib.import_module("crmlib.present.rfm")
        return present.segment_name(self, segment, language=language)


def check_bilingual(where: str, value: Any) -> dict[str, str]:
    """``value`` as ``{"en": ..., "zh": ...}``, else :class:`ConfigError` naming ``where``.

    Parameters
    ----------
    where
        What the text belongs to, for the error message (file and key).
    value
        The mapping read from YAML; both texts must be non-empty strings.
    """
    if not isinstance(value, Mapping) or not all(
        isinstance(value.get(lang), str) and value.get(lang) for lang in ("en", "zh")
    ):
        raise ConfigError(f"{where} must give text for both en and zh; got {value!r}")
    return {"en": str(value["en"]), "zh": str(value["zh"])}


def scheme_names(
    *, params: str | Path | Mapping[str, Any] | None = None, **kwargs: Any
) -> list[str]:
    """Names of the schemes defined in ``params/segments.yaml``.

    Parameters
    ----------
    params
        Overrides merged over ``segments.yaml`` (a mapping, or the path of a YAML file), e.g. a
        report's own schemes. ``params_file`` is a deprecated alias.
    """
    params = renamed_keyword("scheme_names", kwargs, "params_file", "params", params)
    _no_other_keywords("scheme_names", kwargs)
    return list((load_params(PARAMS_FILE, params).get("schemes") or {}).keys())


def _validate_scheme(key: str, spec: Any, *, source: str) -> Scheme:
    where = f"segment scheme {key!r} in {source}"
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"{where} must be a mapping with dimensions, levels and segments; got {spec!r}"
        )
    dims = spec.get("dimensions")
    if (
        not isinstance(dims, Sequence)
        or isinstance(dims, str)
        or not dims
        or any(d not in _DIMENSIONS for d in dims)
    ):
        raise ConfigError(
            f"{where}: 'dimensions' must be a list drawn from {_DIMENSIONS}; got {dims!r}"
        )
    levels = [str(x) for x in spec.get("levels") or []]
    if len(levels) < 2 or len(set(levels)) != len(levels) or any(len(x) != 1 for x in levels):
        raise ConfigError(
            f"{where}: 'levels' must list at least 2 distinct one-character labels; got {levels!r}"
        )
    scoring = spec.get("scoring", "quantile")
    if scoring not in SCORINGS:
        raise ConfigError(
            f"{where}: 'scoring' must be one of {', '.join(map(repr, SCORINGS))}; got {scoring!r}"
        )
    if scoring == "highlow" and len(levels) != 2:
        raise ConfigError(f"{where}: highlow scoring needs exactly 2 levels; got {levels!r}")
    segs = spec.get("segments")
    if not isinstance(segs, Sequence) or isinstance(segs, str) or not segs:
        raise ConfigError(f"{where}: 'segments' must be a non-empty list; got {segs!r}")
    universe = {"".join(c) for c in product(levels, repeat=len(dims))}
    owner: dict[str, list[str]] = {}
    rows = []
    for i, seg in enumerate(segs):
        if not isinstance(seg, Mapping) or not seg.get("key"):
            raise ConfigError(f"{where}: segment #{i + 1} needs a 'key'; got {seg!r}")
        skey = str(seg["key"])
        name = check_bilingual(f"{where}, segment {skey!r} name", seg.get("name"))
        action = check_bilingual(f"{where}, segment {skey!r} action", seg.get("action"))
        cells = [str(c) for c in seg.get("cells") or []]
        unknown = [c for c in cells if c not in universe]
        if unknown:
            raise ConfigError(
                f"{where}, segment {skey!r}: cell(s) {', '.join(unknown)} are not combinations of "
                f"levels {levels} over dimensions {list(dims)}"
            )
        for c in cells:
            owner.setdefault(c, []).append(skey)
        rows.append(
            {
                "segment": skey,
                "order": i + 1,
                "name_en": name["en"],
                "name_zh": name["zh"],
                "action_en": action["en"],
                "action_zh": action["zh"],
                "colour": str(seg.get("colour") or "#6b6b6b"),
                "cells": cells,
            }
        )
    keys = [r["segment"] for r in rows]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{where}: segment keys repeat: {keys}")
    missing = sorted(universe - set(owner))
    overlapping = {c: s for c, s in sorted(owner.items()) if len(s) > 1}
    if missing or overlapping:
        parts = []
        if missing:
            parts.append("missing cell(s) " + ", ".join(missing))
        if overlapping:
            parts.append(
                "overlapping cell(s) "
                + "; ".join(f"{c} in {' and '.join(s)}" for c, s in overlapping.items())
            )
        raise ConfigError(
            f"{where} is not a complete partition of the score combinations: {'; '.join(parts)} "
            f"(cells are one label of {levels} per dimension {list(dims)})"
        )
    name = spec.get("name") or {"en": key, "zh": key}
    return Scheme(
        key=key,
        name=check_bilingual(f"{where}: name", name),
        dimensions=tuple(dims),
        levels=tuple(levels),
        scoring=scoring,
        segments=pd.DataFrame(rows),
    )


def load_scheme(
    scheme: str | Path | Mapping[str, Any] | Scheme = "cn8",
    *,
    params: str | Path | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Scheme:
    """Load and validate a segment scheme.

    Parameters
    ----------
    scheme
        A scheme name from ``params/segments.yaml`` (``"cn8"``, ``"en11"``), the path of a YAML
        file holding one scheme (the mapping with ``dimensions``, ``levels``, ``segments``), or
        that mapping as a dict. A :class:`Scheme` is returned unchanged.
    params
        Overrides merged over ``segments.yaml`` (a mapping, or the path of a YAML file), e.g. a
        report's own schemes. ``params_file`` is a deprecated alias.

    Raises
    ------
    ConfigError
        When the scheme is unknown, malformed, or not a complete partition of the score
        combinations (the message names the file, the missing and overlapping cells).
    """
    params = renamed_keyword("load_scheme", kwargs, "params_file", "params", params)
    _no_other_keywords("load_scheme", kwargs)
    if isinstance(scheme, Scheme):
        return scheme
    if isinstance(scheme, Mapping):
        return _validate_scheme(
            str(scheme.get("key", "custom")), scheme, source="the given mapping"
        )
    text = str(scheme)
    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        path = resolve_path(text)
        spec = read_yaml(path)
        if isinstance(spec, Mapping) and "schemes" in spec and "segments" not in spec:
            found = list(spec["schemes"] or {})
            if len(found) != 1:
                raise ConfigError(
                    f"scheme file {text!r} must hold exactly one scheme; found {found or 'none'}"
                )
            return _validate_scheme(found[0], spec["schemes"][found[0]], source=repr(str(path)))
        return _validate_scheme(Path(text).stem, spec, source=repr(str(path)))
    schemes = load_params(PARAMS_FILE, params).get("schemes") or {}
    if text not in schemes:
        raise ConfigError(
            f"parameter 'scheme' must be one of {', '.join(map(repr, schemes))} (the schemes of "
            f"{_params_source(params)}) or the path of a scheme YAML file; got {text!r}"
        )
    return _validate_scheme(text, schemes[text], source=_params_source(params))


def assign_segments(scored: pd.DataFrame, *, scheme: str | Scheme = "cn8") -> pd.DataFrame:
    """Map each customer's scores to a segment of ``scheme``.

    Parameters
    ----------
    scored
        ``Scores.table`` from :func:`crmlib.rfm.score_rfm` (needs the score columns the scheme
        uses).
    scheme
        Scheme name or :class:`Scheme`.

    Returns
    -------
    pandas.DataFrame
        ``scored`` with ``cell`` (the cell code, e.g. ``"HHL"`` or ``"54"``) and ``segment``.
    """
    sch = load_scheme(scheme)
    n_levels = len(sch.levels)
    index = np.zeros(len(scored), dtype=np.int64)
    for d in sch.dimensions:
        col = f"{d}_score"
        if col not in scored:
            raise DataError(f"scores lack {col}; score the table with score_rfm()", column=col)
        s = scored[col].to_numpy(dtype=np.int64)
        bad = (s < 1) | (s > n_levels)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ConfigError(
                f"scheme {sch.key!r} has {n_levels} levels but {col} of customer "
                f"{scored['customer_id'].iloc[i]!r} is {int(s[i])}; use bins={n_levels} "
                f"or scoring='{sch.scoring}'"
            )
        index = index * n_levels + (s - 1)
    cells = sch.cells
    cmap = sch.cell_map
    out = scored.copy(deep=False)  # copy-on-write: the new columns leave ``scored`` as it was
    out["cell"] = np.asarray(cells, dtype=object)[index]
    out["segment"] = np.asarray([cmap[c] for c in cells], dtype=object)[index]
    return out


# --------------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segmentation:
    """Scores and segments of every customer.

    Attributes
    ----------
    customers
        Per customer: the RFM table, ``r_score``/``f_score``/``m_score``/``fm_score``, ``cell``
        and ``segment`` (the segment key).
    edges
        The bin edges actually used (see :class:`crmlib.rfm.Scores`).
    scheme
        The :class:`Scheme`.
    scoring
        The scoring used.
    rule
        The tie rule of the scoring.
    unequal
        Quantile scoring: the metrics whose bins ties made unequal (see
        :class:`crmlib.rfm.Scores`); empty otherwise.
    """

    customers: pd.DataFrame
    edges: pd.DataFrame
    scheme: Scheme
    scoring: str
    rule: str
    unequal: tuple[str, ...] = ()


def check_segmentation(
    *,
    scheme: str | Path | Mapping[str, Any] | Scheme = "cn8",
    scoring: str | None = None,
    bins: int | None = None,
    edges: Mapping[str, Sequence[float]] | None = None,
    split: str | Mapping[str, float] = "mean",
) -> Scheme:
    """The scheme of :func:`segment_rfm`, once its options are known to fit it; raises
    :class:`~crmlib.errors.ConfigError` naming the parameter before any data is read.

    Parameters are those of :func:`segment_rfm`: scores must give the scheme's number of
    levels (quantile ``bins``, one bin fewer than ``edges`` per metric, 2 for ``highlow``).
    """
    sch = load_scheme(scheme)
    scoring = scoring or sch.scoring
    bins = bins or len(sch.levels)
    check_scoring(scoring, bins=bins, edges=edges, split=split)
    if edges and scoring != "edges":
        raise ConfigError(
            f"parameter 'edges' is used only with scoring 'edges'; scoring is {scoring!r}"
        )
    if isinstance(split, Mapping) and scoring != "highlow":
        raise ConfigError(
            f"thresholds (parameter 'split') are used only with scoring 'highlow'; scoring is "
            f"{scoring!r}"
        )
    levels = len(sch.levels)
    if scoring == "quantile" and bins != levels:
        raise ConfigError(
            f"parameter 'bins' must be {levels} for scheme {sch.key!r} "
            f"(its levels are {list(sch.levels)}); got {bins!r}"
        )
    if scoring == "highlow" and levels != 2:
        raise ConfigError(
            f"parameter 'scoring' 'highlow' gives 2 levels but scheme {sch.key!r} has "
            f"{levels}; use 'quantile' or 'edges'"
        )
    if scoring == "edges":
        wrong = {m: len(e) - 1 for m, e in (edges or {}).items() if len(e) - 1 != levels}
        if wrong:
            metric, n = next(iter(wrong.items()))
            raise ConfigError(
                f"parameter 'edges' for {metric} gives {n} bins but scheme {sch.key!r} has "
                f"{levels} levels {list(sch.levels)}: give {levels + 1} edges per metric"
            )
    return sch


def segment_rfm(
    table: pd.DataFrame,
    *,
    scheme: str | Path | Mapping[str, Any] | Scheme = "cn8",
    scoring: str | None = None,
    bins: int | None = None,
    edges: Mapping[str, Sequence[float]] | None = None,
    split: str | Mapping[str, float] = "mean",
    monetary: str = "total",
) -> Segmentation:
    """Score the RFM table and assign every customer a segment of ``scheme``.

    Parameters
    ----------
    table
        Output of :func:`crmlib.rfm.rfm_table`.
    scheme
        Scheme name, YAML path, mapping or :class:`Scheme` (see :func:`load_scheme`).
    scoring
        ``None`` or ``""`` uses the scheme's default (``highlow`` for cn8, ``quantile`` for
        en11); otherwise as in :func:`crmlib.rfm.score_rfm`.
    bins
        Quantile bins; ``None`` or 0 means the scheme's number of levels (2 for cn8, 5 for en11).
    edges, split, monetary
        As in :func:`crmlib.rfm.score_rfm`.
    """
    sch = check_segmentation(scheme=scheme, scoring=scoring, bins=bins, edges=edges, split=split)
    scoring = scoring or sch.scoring
    bins = bins or len(sch.levels)
    scores = score_rfm(
        table, scoring=scoring, bins=bins, edges=edges, split=split, monetary=monetary
    )
    segmented = assign_segments(scores.table, scheme=sch)
    return Segmentation(
        customers=segmented,
        edges=scores.edges,
        scheme=sch,
        scoring=scoring,
        rule=scores.rule,
        unequal=scores.unequal,
    )


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------

_EXPORT_COLUMNS = (
    "customer_id",
    "segment",
    "cell",
    "r_score",
    "f_score",
    "m_score",
    "fm_score",
    "recency_days",
    "frequency",
    "orders",
    "monetary",
    "aov",
)


def export_segments(
    rfm_table: pd.DataFrame,
    path: str | Path,
    *,
    segments: Iterable[str] | None = None,
    include_personal: bool = False,
    customers: Any = None,
) -> list[Path]:
    """Write customer lists with ids and scores as CSV.

    Parameters
    ----------
    rfm_table
        ``Segmentation.customers`` (per customer with scores and ``segment``).
    path
        A ``.csv`` file: one file with every selected customer. Otherwise a folder: one
        ``<segment>.csv`` per selected segment (created if needed).
    segments
        Segment keys to export; ``None`` exports all.
    include_personal
        Add the personal fields (name, phone, email, address, postcode, birthday) from
        ``customers``. Without it no personal field is written, even if ``rfm_table`` holds one.
    customers
        The customers table (pandas, path or Ibis table in the canonical schema); needed when
        ``include_personal`` is true.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    if not isinstance(include_personal, bool):
        raise ConfigError(
            f"parameter 'include_personal' must be true or false; got {include_personal!r}"
        )
    if "segment" not in rfm_table:
        raise DataError(
            "the table lacks column segment; use Segmentation.customers", column="segment"
        )
    data = rfm_table[[c for c in _EXPORT_COLUMNS if c in rfm_table]].copy()
    if segments is not None:
        wanted = [str(s) for s in ([segments] if isinstance(segments, str) else segments)]
        present = set(rfm_table["segment"].unique())
        unknown = [s for s in wanted if s not in present]
        if unknown:
            raise ConfigError(
                f"parameter 'segments' names {', '.join(map(repr, unknown))}, which hold no customer; "
                f"segments present: {', '.join(sorted(present))}"
            )
        data = data[data["segment"].isin(wanted)]
    if include_personal:
        if customers is None:
            raise ConfigError(
                "parameter 'include_personal' is true but no 'customers' table was given"
            )
        cust_tbl = as_table(customers, table="customers")
        personal = execute(cust_tbl.select("customer_id", *PERSONAL_FIELDS))
        personal["customer_id"] = personal["customer_id"].astype(str)
        personal = personal.drop_duplicates("customer_id")
        data = data.merge(personal, on="customer_id", how="left")
    path = Path(path)
    written: list[Path] = []
    if path.suffix.lower() == ".csv":
        path.parent.mkdir(parents=True, exist_ok=True)
        spreadsheet_safe(data).to_csv(path, index=False, encoding="utf-8")
        written.append(path)
    else:
        path.mkdir(parents=True, exist_ok=True)
        for seg, part in data.groupby("segment", sort=True):
            target = path / f"{seg}.csv"
            spreadsheet_safe(part).to_csv(target, index=False, encoding="utf-8")
            written.append(target)
    return written
