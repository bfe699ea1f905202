"""Notebook parameters checked against the notebook's ``parameters`` cell before anything runs.

The cell is read with :func:`papermill.inspect_notebook`. A value must be a parameter the cell
declares, of the type its annotation (or its literal default) says; ``language`` must be a known
language and ``as_of`` an ISO date; parameters whose names end in ``_params``, ``_path`` or
``_file`` must name an existing file. Every problem raises :class:`~crmlib.errors.ConfigError`
naming the pack, the notebook and the parameter.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crmlib.config import check_choice, project_dir
from crmlib.errors import ConfigError
from crmlib.i18n import LANGUAGES

__all__ = [
    "FILE_SUFFIXES",
    "TYPE_NAMES",
    "check_date",
    "check_parameters",
    "error_prefix",
    "inspect_parameters",
    "matches_type",
]

#: Parameters whose names end like this must name an existing file.
FILE_SUFFIXES: tuple[str, ...] = ("_params", "_path", "_file")
#: Type names a notebook parameter may be annotated with (others accept anything).
TYPE_NAMES: tuple[str, ...] = ("str", "int", "float", "bool", "list", "tuple", "dict", "None")


def error_prefix(
    pack: str | None, notebook: str | None = None, parameter: str | None = None
) -> str:
    """The start of an error message naming where the problem is.

    ``error_prefix("weekly", "01_data_quality", "as_of")`` is
    ``"pack 'weekly', notebook '01_data_quality', parameter 'as_of': "``; parts that are None
    are left out, and nothing at all gives ``""``.
    """
    parts = [
        f"{label} {value!r}"
        for label, value in (("pack", pack), ("notebook", notebook), ("parameter", parameter))
        if value is not None
    ]
    return ", ".join(parts) + ": " if parts else ""


def check_date(name: str, value: Any) -> str:
    """Return ``value`` as an ISO date string (``""`` stays empty), else raise :class:`ConfigError`."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or value == "":
        return ""
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ConfigError(
            f"parameter {name!r} must be an ISO date (YYYY-MM-DD) or empty; got {value!r}"
        ) from None


def matches_type(value: Any, type_name: str) -> bool:
    """True when ``value`` fits type ``type_name`` (one of :data:`TYPE_NAMES`).

    ``bool`` is not an ``int`` here, an ``int`` is a ``float``, and a list fits ``tuple``.
    """
    if type_name == "None":
        return value is None
    if type_name == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if type_name == "int":
        return isinstance(value, int)
    if type_name == "float":
        return isinstance(value, int | float)
    if type_name in ("list", "tuple"):
        return isinstance(value, list | tuple)
    if type_name == "dict":
        return isinstance(value, Mapping)
    return isinstance(value, str)


def _iso(value: Any) -> Any:
    """Dates (YAML turns ``2026-11-22`` into a date) become ISO strings; containers recurse."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_iso(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _iso(v) for k, v in value.items()}
    return value


def _declared_types(info: Mapping[str, Any]) -> tuple[str, ...] | None:
    """Type names a notebook parameter accepts, or None when anything goes.

    From the annotation (``int``, ``str | None``, ``Optional[float]``, ``list[str]``), else from the
    type of the literal default.
    """
    name = str(info.get("inferred_type_name") or "None").strip()
    if name == "None":
        try:
            default = ast.literal_eval(str(info.get("default")))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
        return None if default is None else (type(default).__name__,)
    name = re.sub(r"^(?:typing\.)?Optional\[(.*)\]$", r"\1 | None", name)
    name = re.sub(r"\[.*\]", "", name)
    out = []
    for part in name.split("|"):
        base = part.strip().removeprefix("typing.")
        base = {"List": "list", "Dict": "dict", "Tuple": "tuple", "NoneType": "None"}.get(
            base, base
        )
        if base not in TYPE_NAMES:
            return None
        out.append(base)
    return tuple(out)


def inspect_parameters(notebook: str | Path) -> dict[str, dict[str, Any]]:
    """The parameters cell of ``notebook``: name -> {name, inferred_type_name, default, help}.

    Raises
    ------
    ConfigError
        When the notebook cannot be read or has no cell tagged ``parameters``.
    """
    from crmlib.report.imports import import_papermill  # slow: only once a notebook is checked

    papermill = import_papermill()

    try:
        found = papermill.inspect_notebook(str(notebook))
    except Exception as exc:  # papermill raises a mix of IO, JSON and validation errors
        raise ConfigError(f"cannot read notebook {str(notebook)!r}: {exc}") from exc
    if not found:
        raise ConfigError(
            f"notebook {str(notebook)!r} has no code cell tagged 'parameters', so it cannot be "
            "run as a report"
        )
    return found


def check_parameters(
    notebook: str | Path,
    parameters: Mapping[str, Any],
    *,
    root: str | Path | None = None,
    pack: str | None = None,
    declared: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Check ``parameters`` against the parameters cell of ``notebook``.

    Parameters
    ----------
    notebook
        Path of the ``.ipynb`` file.
    parameters
        What the notebook will receive. Dates are turned into ISO strings first.
    root
        Project root: the notebook's working directory, against which relative file
        parameters are resolved. Default: :func:`crmlib.config.project_dir`.
    pack
        Pack name, for error messages.
    declared
        The notebook's parameters as :func:`inspect_parameters` returns them (read when None).

    Returns
    -------
    dict
        The parameters, dates as ISO strings.

    Raises
    ------
    ConfigError
        For an unknown name, a value of the wrong type, a ``*_params``/``*_path``/``*_file``
        parameter naming a missing file, a bad ``language`` or a malformed ``as_of``. A
        notebook's own default file must exist as well.
    """
    root = Path(root) if root is not None else project_dir()
    name = Path(notebook).stem
    declared = declared if declared is not None else inspect_parameters(notebook)
    values = {str(k): _iso(v) for k, v in parameters.items()}
    for key, value in values.items():
        where = error_prefix(pack, name, key)
        if key not in declared:
            raise ConfigError(
                f"{where}the notebook has no such parameter; it takes {', '.join(sorted(declared))}"
            )
        types = _declared_types(declared[key])
        if types is not None and not any(matches_type(value, t) for t in types):
            hint = " (quote it in YAML to keep it text)" if "str" in types else ""
            raise ConfigError(
                f"{where}must be {' or '.join(types)}; got {type(value).__name__} {value!r}{hint}"
            )
        if key == "language":
            try:
                check_choice(key, value, LANGUAGES)
            except ConfigError as exc:
                raise ConfigError(f"{error_prefix(pack, name)}{exc}") from None
        if key == "as_of":
            try:
                values[key] = check_date(key, value)
            except ConfigError as exc:
                raise ConfigError(f"{error_prefix(pack, name)}{exc}") from None
    for key, info in declared.items():
        if not key.endswith(FILE_SUFFIXES):
            continue
        if key in values:
            value = values[key]
        else:
            try:
                value = ast.literal_eval(str(info.get("default")))
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
        if isinstance(value, str) and value and not (root / value).is_file():
            source = "" if key in values else " (the notebook's default)"
            raise ConfigError(
                f"{error_prefix(pack, name, key)}file {value!r}{source} does not exist "
                f"(relative paths start at {root})"
            )
    return values
