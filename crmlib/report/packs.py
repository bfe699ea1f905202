"""Report packs: which notebooks run together, with which parameters, when and for whom.

Packs are defined in ``params/reports.yaml`` (every key is documented there). Everything is
checked before a single notebook runs: each parameter against the notebook's ``parameters`` cell
(read with :func:`papermill.inspect_notebook`), the cron schedule, the time zone, the language, the
recipients and the files that ``*_params``/``*_path``/``*_file`` parameters point at. Every
problem raises :class:`~crmlib.errors.ConfigError` naming the pack, the notebook and the parameter.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crmlib.config import check_choice, check_range, read_yaml
from crmlib.errors import ConfigError
from crmlib.i18n import LANGUAGES

#: The run folder of a pack is named after the period its ``as_of`` date falls in.
PERIODS: tuple[str, ...] = ("day", "week", "month")
#: Seconds a notebook may run unless its pack says otherwise.
DEFAULT_TIMEOUT: float = 600.0
#: Parameters whose names end like this must name an existing file.
FILE_SUFFIXES: tuple[str, ...] = ("_params", "_path", "_file")
#: Default location of the packs file and of the notebooks, relative to the project root.
REPORTS_YAML = Path("params/reports.yaml")
NOTEBOOKS_DIR = Path("notebooks")

#: Email settings a pack may give under ``email:`` (copied into ``run.json["settings"]``, where
#: :mod:`crmlib.report.email` reads them), with their defaults.
EMAIL_DEFAULTS: dict[str, Any] = {
    "report_base_url": "",  # base URL of the published reports/ folder; links instead of files
    "attach_limit_mb": 8.0,  # total size of attached full reports, in MB
    "allow_personal_data": False,  # True keeps phone numbers and email addresses in the digest
    "max_table_rows": 15,  # body rows shown per table before "showing the first N of M rows"
    "max_table_columns": 10,  # columns shown per table
    "max_charts": 12,  # charts shown in the body; the rest are in the full report
    "max_html_kb": 100,  # size of the HTML body in KB (Gmail clips at about 102 KB)
}
#: (type, lowest, highest) each email setting must have.
_EMAIL_CHECKS: dict[str, tuple[str, float | None, float | None]] = {
    "report_base_url": ("str", None, None),
    "attach_limit_mb": ("float", 0, None),
    "allow_personal_data": ("bool", None, None),
    "max_table_rows": ("int", 1, None),
    "max_table_columns": ("int", 1, None),
    "max_charts": ("int", 1, None),
    "max_html_kb": ("float", 10, 102),
}

_PACK_KEYS = (
    "description",
    "email",
    "notebooks",
    "parameters",
    "timeout",
    "schedule",
    "timezone",
    "recipients",
    "language",
    "digest",
    "period",
)
_TOP_KEYS = ("notebooks_dir", "default_pack", "packs")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_TYPES = ("str", "int", "float", "bool", "list", "tuple", "dict", "None")


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook of a pack, with the parameters it will receive.

    Attributes
    ----------
    name
        Notebook name without ``.ipynb`` (``"01_data_quality"``).
    path
        Absolute path of the notebook.
    parameters
        Merged pack defaults and per-notebook overrides (dates already ISO strings).
    timeout
        Seconds the notebook may run.
    """

    name: str
    path: Path
    parameters: dict[str, Any]
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Pack:
    """A validated report pack (see ``params/reports.yaml`` for the meaning of each field)."""

    name: str
    notebooks: tuple[NotebookSpec, ...]
    language: str = "en"
    period: str = "week"
    digest: str = ""
    schedule: str | None = None
    timezone: str = "UTC"
    recipients: dict[str, list[str]] = field(default_factory=lambda: {"success": [], "failure": []})
    description: str | dict[str, str] = ""
    root: Path = field(default_factory=Path.cwd)
    email: dict[str, Any] = field(default_factory=dict)

    def title(self, language: str | None = None) -> str:
        """The pack's description in ``language`` (default the pack's), without the final
        full stop, else its name: the heading and subject of its email."""
        text = self.description
        if isinstance(text, Mapping):
            text = text.get(language or self.language) or next(iter(text.values()), "")
        return str(text).strip().rstrip(".。") or self.name

    def notebook(self, name: str) -> NotebookSpec:
        """The notebook called ``name`` in this pack."""
        for spec in self.notebooks:
            if spec.name == name:
                return spec
        raise ConfigError(f"pack {self.name!r} has no notebook {name!r}")


def _where(pack: str | None, notebook: str | None = None, parameter: str | None = None) -> str:
    parts = [
        f"{label} {value!r}"
        for label, value in (("pack", pack), ("notebook", notebook), ("parameter", parameter))
        if value is not None
    ]
    return ", ".join(parts) + ": " if parts else ""


def period_name(period: str, day: dt.date) -> str:
    """Name of the run folder for ``day``: ``2026-W47`` (week), ``2026-11`` (month), ``2026-11-22`` (day).

    Weeks are ISO weeks (Monday first), so the days around New Year belong to the ISO year.
    """
    check_choice("period", period, PERIODS)
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()


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


def check_cron(name: str, value: Any) -> str:
    """Return ``value`` if it is a valid cron expression (croniter syntax), else raise."""
    from croniter import croniter

    if not isinstance(value, str) or not croniter.is_valid(value):
        raise ConfigError(
            f"parameter {name!r} must be a cron expression such as '0 7 * * 1' "
            f"(minute hour day-of-month month day-of-week); got {value!r}"
        )
    return value


def check_timezone(name: str, value: Any) -> str:
    """Return ``value`` if it is an IANA time zone name (``Asia/Shanghai``), else raise."""
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"parameter {name!r} must be an IANA time zone such as 'Asia/Shanghai' or 'UTC'; "
            f"got {value!r}"
        ) from None
    return str(value)


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
        if base not in _TYPES:
            return None
        out.append(base)
    return tuple(out)


def _matches(value: Any, type_name: str) -> bool:
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


def inspect_parameters(notebook: str | Path) -> dict[str, dict[str, Any]]:
    """The parameters cell of ``notebook``: name -> {name, inferred_type_name, default, help}.

    Raises
    ------
    ConfigError
        When the notebook cannot be read or has no cell tagged ``parameters``.
    """
    import papermill

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
        parameters are resolved. Default: the current directory.
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
        parameter naming a missing file, a bad ``language`` or a malformed ``as_of``.
    """
    root = Path(root) if root is not None else Path.cwd()
    name = Path(notebook).stem
    declared = declared if declared is not None else inspect_parameters(notebook)
    values = {str(k): _iso(v) for k, v in parameters.items()}
    for key, value in values.items():
        where = _where(pack, name, key)
        if key not in declared:
            raise ConfigError(
                f"{where}the notebook has no such parameter; it takes {', '.join(sorted(declared))}"
            )
        types = _declared_types(declared[key])
        if types is not None and not any(_matches(value, t) for t in types):
            hint = " (quote it in YAML to keep it text)" if "str" in types else ""
            raise ConfigError(
                f"{where}must be {' or '.join(types)}; got {type(value).__name__} {value!r}{hint}"
            )
        if key == "language":
            try:
                check_choice(key, value, LANGUAGES)
            except ConfigError as exc:
                raise ConfigError(f"{_where(pack, name)}{exc}") from None
        if key == "as_of":
            try:
                values[key] = check_date(key, value)
            except ConfigError as exc:
                raise ConfigError(f"{_where(pack, name)}{exc}") from None
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
                f"{_where(pack, name, key)}file {value!r}{source} does not exist "
                f"(relative paths start at {root})"
            )
    return values


def _names(value: Any, what: str, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}{what} must be a list of names; got {value!r}")
    return value


def _recipients(value: Any, where: str) -> dict[str, list[str]]:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}recipients must be a mapping {{success: [...], failure: [...]}}; got {value!r}"
        )
    unknown = set(value) - {"success", "failure"}
    if unknown:
        raise ConfigError(
            f"{where}recipients may list 'success' and 'failure' only; got {sorted(unknown)}"
        )
    out = {}
    for kind in ("success", "failure"):
        addresses = _names(value.get(kind), f"recipients.{kind}", where)
        for address in addresses:
            if not _EMAIL.match(address):
                raise ConfigError(
                    f"{where}recipients.{kind} holds {address!r}, which is not an email address"
                )
        out[kind] = addresses
    return out


def check_email_settings(value: Any, *, pack: str | None = None) -> dict[str, Any]:
    """Validate a pack's ``email:`` mapping (keys and types as in :data:`EMAIL_DEFAULTS`).

    Returns the settings given (defaults are not filled in), numbers as int or float.

    Raises
    ------
    ConfigError
        Naming the pack and the setting for an unknown key, a wrong type or a value out of range.
    """
    where = _where(pack)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}email must be a mapping of settings ({', '.join(EMAIL_DEFAULTS)}); "
            f"got {value!r}"
        )
    unknown = sorted(str(k) for k in set(value) - set(EMAIL_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"{where}unknown email setting(s) {unknown}; allowed: {', '.join(EMAIL_DEFAULTS)}"
        )
    out: dict[str, Any] = {}
    for key, given in value.items():
        kind, low, high = _EMAIL_CHECKS[key]
        name = f"email.{key}"
        if not _matches(given, kind):
            raise ConfigError(
                f"{_where(pack, None, name)}must be {'a number' if kind == 'float' else kind}; "
                f"got {type(given).__name__} {given!r}"
            )
        if low is not None or high is not None:
            try:
                check_range(name, given, low=low, high=high)
            except ConfigError as exc:
                raise ConfigError(f"{where}{exc}") from None
        out[key] = given
    return out


def _description(value: Any, where: str) -> str | dict[str, str]:
    """A pack's description: one line of text, or {en: ..., zh: ...}."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        unknown = sorted(str(k) for k in set(value) - set(LANGUAGES))
        if unknown or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(
                f"{where}description must be text or a mapping {{en: text, zh: text}}; got {value!r}"
            )
        return {str(k): v for k, v in value.items()}
    return str(value)


def _timeouts(value: Any, notebooks: Sequence[str], pack: str) -> dict[str, float]:
    """Per-notebook timeouts from a number or a mapping {default: s, <notebook>: s}."""
    where = _where(pack)
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        value = {"default": value}
    unknown = set(value) - {"default", *notebooks}
    if unknown:
        raise ConfigError(
            f"{where}timeout names {sorted(unknown)}, which are not notebooks of the pack"
        )
    out = {}
    for name in notebooks:
        seconds = value.get(name, value.get("default", DEFAULT_TIMEOUT))
        try:
            out[name] = float(check_range("timeout", seconds, low=0, low_inclusive=False))
        except ConfigError as exc:
            raise ConfigError(f"{_where(pack, name)}{exc}") from None
    return out


def notebook_path(
    name: str, *, notebooks_dir: str | Path = NOTEBOOKS_DIR, root: str | Path | None = None
) -> Path:
    """Absolute path of notebook ``name`` (without ``.ipynb``) in ``notebooks_dir``."""
    root = Path(root) if root is not None else Path.cwd()
    folder = root / notebooks_dir
    path = folder / f"{name}.ipynb"
    if not _NAME.match(name) or not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.ipynb")) if folder.is_dir() else []
        raise ConfigError(
            f"unknown notebook {name!r}: no {name}.ipynb in {folder}; "
            f"known notebooks: {', '.join(known) or 'none'}"
        )
    return path.resolve()


def build_pack(
    name: str,
    spec: Mapping[str, Any],
    *,
    notebooks_dir: str | Path = NOTEBOOKS_DIR,
    root: str | Path | None = None,
) -> Pack:
    """Validate one pack definition (a mapping as in ``params/reports.yaml``) and return it.

    Raises
    ------
    ConfigError
        Naming the pack, notebook and parameter of the first problem found.
    """
    root = Path(root).resolve() if root is not None else Path.cwd()
    where = _where(name)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"pack name {name!r} must start with a letter or digit and hold only letters, "
            "digits, '_' and '-' (it names the report folder)"
        )
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}the pack must be a mapping of settings; got {spec!r}")
    unknown = sorted(set(spec) - set(_PACK_KEYS))
    if unknown:
        raise ConfigError(f"{where}unknown setting(s) {unknown}; allowed: {', '.join(_PACK_KEYS)}")
    names = _names(spec.get("notebooks"), "notebooks", where)
    if not names:
        raise ConfigError(f"{where}lists no notebooks")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}lists a notebook twice: {names}")
    paths = {}
    for nb in names:
        try:
            paths[nb] = notebook_path(nb, notebooks_dir=notebooks_dir, root=root)
        except ConfigError as exc:
            raise ConfigError(f"{where}{exc}") from None

    try:
        language = check_choice("language", spec.get("language", "en"), LANGUAGES)
        period = check_choice("period", spec.get("period", "week"), PERIODS)
        timezone = check_timezone("timezone", spec.get("timezone", "UTC"))
        schedule = spec.get("schedule")
        if schedule is not None:
            check_cron("schedule", schedule)
        digest = check_choice("digest", spec.get("digest", names[0]), names)
    except ConfigError as exc:
        raise ConfigError(f"{where}{exc}") from None
    recipients = _recipients(spec.get("recipients"), where)
    timeouts = _timeouts(spec.get("timeout"), names, name)
    email = check_email_settings(spec.get("email"), pack=name)
    description = _description(spec.get("description"), where)

    parameters = spec.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise ConfigError(f"{where}parameters must be a mapping {{defaults: ..., <notebook>: ...}}")
    stray = sorted(set(parameters) - {"defaults", *names})
    if stray:
        raise ConfigError(
            f"{where}parameters given for {stray}, which are not notebooks of the pack "
            f"(use 'defaults' for parameters shared by every notebook)"
        )
    for key, value in parameters.items():
        if value is not None and not isinstance(value, Mapping):
            raise ConfigError(f"{where}parameters.{key} must be a mapping of name: value")
        if "language" in (value or {}):
            raise ConfigError(
                f"{_where(name, None if key == 'defaults' else key, 'language')}set the "
                "pack's 'language' instead; it is passed to every notebook"
            )
    defaults = dict(parameters.get("defaults") or {})

    declared_by = {nb: inspect_parameters(paths[nb]) for nb in names}
    notebooks = []
    for nb in names:
        declared = declared_by[nb]
        # shared defaults go only to notebooks that declare them; per-notebook values must fit
        given = {k: v for k, v in defaults.items() if k in declared}
        given.update(parameters.get(nb) or {})
        for required in ("language", "as_of"):
            if required not in declared:
                raise ConfigError(
                    f"{_where(name, nb, required)}every report notebook must declare this "
                    "parameter in its parameters cell"
                )
        given["language"] = language
        values = check_parameters(paths[nb], given, root=root, pack=name, declared=declared)
        notebooks.append(NotebookSpec(nb, paths[nb], values, timeouts[nb]))
    for key in defaults:
        if not any(key in declared for declared in declared_by.values()):
            raise ConfigError(
                f"{_where(name, None, key)}no notebook of the pack declares this parameter"
            )
    return Pack(
        name=name,
        notebooks=tuple(notebooks),
        language=language,
        period=period,
        digest=digest,
        schedule=schedule,
        timezone=timezone,
        recipients=recipients,
        description=description,
        root=root,
        email=email,
    )


def load_packs(
    path: str | Path = REPORTS_YAML, *, root: str | Path | None = None
) -> dict[str, Pack]:
    """Read and validate every pack of a packs file.

    Parameters
    ----------
    path
        The packs file, ``params/reports.yaml`` by default (relative to ``root``).
    root
        Project root: notebooks run there and relative paths start there. Default: the
        current directory.

    Returns
    -------
    dict
        Pack name -> :class:`Pack`, in file order.

    Raises
    ------
    ConfigError
        For the first problem found, naming the pack, notebook and parameter.
    """
    root = Path(root).resolve() if root is not None else Path.cwd()
    path = Path(path)
    data = read_yaml(path if path.is_absolute() else root / path)
    if not isinstance(data, Mapping) or not isinstance(data.get("packs"), Mapping):
        raise ConfigError(f"{str(path)!r} must hold a mapping 'packs: {{<name>: {{...}}}}'")
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise ConfigError(
            f"{str(path)!r}: unknown top-level key(s) {unknown}; allowed: {', '.join(_TOP_KEYS)}"
        )
    notebooks_dir = data.get("notebooks_dir") or NOTEBOOKS_DIR
    packs = {
        str(name): build_pack(str(name), spec, notebooks_dir=notebooks_dir, root=root)
        for name, spec in data["packs"].items()
    }
    _default_of(data, packs, path)
    return packs


def _default_of(data: Mapping[str, Any], packs: Mapping[str, Pack], path: Path) -> str | None:
    """The packs file's ``default_pack`` (else its first pack); None when it has no pack."""
    default = data.get("default_pack")
    if default is None:
        return next(iter(packs), None)
    if str(default) not in packs:
        raise ConfigError(
            f"{str(path)!r}: default_pack {default!r} is not a pack of this file "
            f"({', '.join(packs) or 'none defined'})"
        )
    return str(default)


def default_pack(
    path: str | Path = REPORTS_YAML,
    *,
    root: str | Path | None = None,
    packs: Mapping[str, Pack] | None = None,
) -> str | None:
    """The pack ``crmwb run`` runs when it is given no target.

    That is the packs file's ``default_pack`` key, else the first pack of the file; None when
    the file defines no pack. ``packs``: the file's packs when already loaded
    (:func:`load_packs`), so they are not validated twice.

    Raises
    ------
    ConfigError
        When ``default_pack`` names no pack of the file (or the file is invalid).
    """
    root = Path(root).resolve() if root is not None else Path.cwd()
    path = Path(path)
    full = path if path.is_absolute() else root / path
    if packs is None:
        packs = load_packs(full, root=root)
    return _default_of(read_yaml(full) or {}, packs, full)


def notebooks_dir_of(path: str | Path = REPORTS_YAML, *, root: str | Path | None = None) -> Path:
    """The notebooks folder a packs file points at (``notebooks/`` unless it says otherwise)."""
    root = Path(root).resolve() if root is not None else Path.cwd()
    path = Path(path)
    full = path if path.is_absolute() else root / path
    data = read_yaml(full) if full.exists() else {}
    return root / ((data or {}).get("notebooks_dir") or NOTEBOOKS_DIR)


def resolve_targets(
    targets: Iterable[str],
    *,
    packs: Mapping[str, Pack],
    all_packs: bool = False,
    notebooks_dir: str | Path = NOTEBOOKS_DIR,
    root: str | Path | None = None,
    language: str = "en",
    default: str | None = None,
) -> list[Pack]:
    """Turn command-line targets (pack or notebook names) into packs to run.

    A pack name selects that pack; a notebook name (``01_data_quality``, also written
    ``01_data_quality.ipynb`` or ``notebooks/01_data_quality.ipynb``) selects a one-notebook
    pack of the same name with the notebook's own defaults (its run folder is named by day).
    ``all_packs`` selects every pack; no target at all selects the ``default`` pack. Packs win
    over notebooks of the same name.

    Raises
    ------
    ConfigError
        When a target is neither a pack nor a notebook, or nothing is selected.
    """
    targets = [Path(t).stem if t not in packs and t.endswith(".ipynb") else t for t in targets]
    chosen = list(packs.values()) if all_packs else []
    if not targets and not all_packs and default is not None:
        chosen.append(packs[default])
    for target in targets:
        if target in packs:
            if packs[target] not in chosen:
                chosen.append(packs[target])
            continue
        try:
            notebook_path(target, notebooks_dir=notebooks_dir, root=root)
        except ConfigError:
            raise ConfigError(
                f"{target!r} is neither a pack ({', '.join(packs) or 'none defined'}) nor a "
                f"notebook in {Path(notebooks_dir)}"
            ) from None
        chosen.append(
            build_pack(
                target,
                {"notebooks": [target], "language": language, "period": "day"},
                notebooks_dir=notebooks_dir,
                root=root,
            )
        )
    if not chosen:
        raise ConfigError("nothing to run: the packs file defines no pack; name a notebook")
    return chosen
