"""Report packs: which notebooks run together, with which parameters, when and for whom.

Packs are defined in ``params/reports.yaml`` (every key is documented there). Everything is
checked before a single notebook runs: each parameter against the notebook's ``parameters`` cell
(:mod:`crmlib.report.parameters`) and every other setting of the pack
(:mod:`crmlib.report.settings`). Every problem raises :class:`~crmlib.errors.ConfigError`
naming the pack, the notebook and the parameter.

Notebooks run in the project folder and relative paths start there. The project's own
``params/reports.yaml`` and ``notebooks/`` win; a project without them uses the packs file and
notebooks packaged with crmlib (see :mod:`crmlib.report.project`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmlib.compat import moved
from crmlib.config import check_choice, read_yaml
from crmlib.errors import ConfigError
from crmlib.i18n import LANGUAGES
from crmlib.report.limits import (
    DEFAULT_MEMORY_LIMIT,
    check_memory_limits,
    check_timeout,
    parse_size,
)
from crmlib.report.parameters import check_parameters, error_prefix, inspect_parameters
from crmlib.report.project import (
    NAME_PATTERN,
    NOTEBOOKS_DIR,
    PACKAGED_REPORTS_YAML,
    REPORTS_YAML,
    notebook_path,
    packs_file,
    project_root,
)
from crmlib.report.settings import (
    DEFAULT_TIMEOUT,
    PERIODS,
    check_cron,
    check_description,
    check_email_settings,
    check_names,
    check_recipients,
    check_timeouts,
    check_timezone,
)

__all__ = [
    "NotebookSpec",
    "Pack",
    "build_pack",
    "default_pack",
    "load_packs",
    "resolve_targets",
]

_PACK_KEYS = (
    "description",
    "email",
    "notebooks",
    "start_first",
    "parameters",
    "timeout",
    "memory_limit",
    "schedule",
    "timezone",
    "recipients",
    "language",
    "digest",
    "period",
)
_TOP_KEYS = ("notebooks_dir", "default_pack", "packs")


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
    memory_limit
        Bytes the notebook's worker and kernel may hold together (None: no limit).
    """

    name: str
    path: Path
    parameters: dict[str, Any]
    timeout: float = DEFAULT_TIMEOUT
    memory_limit: int | None = parse_size(DEFAULT_MEMORY_LIMIT)


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
    root: Path = field(default_factory=project_root)
    email: dict[str, Any] = field(default_factory=dict)
    start_first: tuple[str, ...] = ()

    def start_order(self) -> tuple[NotebookSpec, ...]:
        """The notebooks in the order the runner starts them: those of :attr:`start_first`
        in its order, then the others in reading order (:attr:`notebooks`, the order of the
        reports and of run.json)."""
        first = [self.notebook(name) for name in self.start_first]
        return (*first, *(nb for nb in self.notebooks if nb.name not in self.start_first))

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
    root = project_root(root)
    where = error_prefix(name)
    # fullmatch: a "$" anchor alone would let a trailing newline ("weekly\n") through
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"pack name {name!r} must start with a letter or digit and hold only letters, "
            "digits, '_' and '-' (it names the report folder)"
        )
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}the pack must be a mapping of settings; got {spec!r}")
    unknown = sorted(set(spec) - set(_PACK_KEYS))
    if unknown:
        raise ConfigError(f"{where}unknown setting(s) {unknown}; allowed: {', '.join(_PACK_KEYS)}")
    names = check_names(spec.get("notebooks"), "notebooks", where)
    if not names:
        raise ConfigError(f"{where}lists no notebooks")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}lists a notebook twice: {names}")
    start_first = check_names(spec.get("start_first"), "start_first", where)
    if not set(start_first) <= set(names) or len(set(start_first)) != len(start_first):
        raise ConfigError(
            f"{where}start_first must name notebooks of the pack, each once; got {start_first} "
            f"(notebooks: {', '.join(names)})"
        )
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
    recipients = check_recipients(spec.get("recipients"), where)
    timeouts = check_timeouts(spec.get("timeout"), names, name)
    for nb, seconds in timeouts.items():  # .inf and .nan pass a range check; not this one
        try:
            check_timeout(seconds)
        except ConfigError as exc:
            raise ConfigError(f"{error_prefix(name, nb)}{exc}") from None
    memory = check_memory_limits(spec.get("memory_limit"), names, name)
    email = check_email_settings(spec.get("email"), pack=name)
    description = check_description(spec.get("description"), where)

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
                f"{error_prefix(name, None if key == 'defaults' else key, 'language')}set the "
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
                    f"{error_prefix(name, nb, required)}every report notebook must declare this "
                    "parameter in its parameters cell"
                )
        given["language"] = language
        values = check_parameters(paths[nb], given, root=root, pack=name, declared=declared)
        notebooks.append(NotebookSpec(nb, paths[nb], values, timeouts[nb], memory[nb]))
    for key in defaults:
        if not any(key in declared for declared in declared_by.values()):
            raise ConfigError(
                f"{error_prefix(name, None, key)}no notebook of the pack declares this parameter"
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
        start_first=tuple(start_first),
    )


def load_packs(
    path: str | Path = REPORTS_YAML, *, root: str | Path | None = None
) -> dict[str, Pack]:
    """Read and validate every pack of a packs file.

    Parameters
    ----------
    path
        The packs file, ``params/reports.yaml`` by default (relative to ``root``); see
        :func:`crmlib.report.project.packs_file` for the packaged fallback.
    root
        Project root: notebooks run there and relative paths start there. Default:
        :func:`crmlib.config.project_dir`.

    Returns
    -------
    dict
        Pack name -> :class:`Pack`, in file order.

    Raises
    ------
    ConfigError
        For the first problem found, naming the pack, notebook and parameter.
    """
    root = project_root(root)
    data, shown = _read_packs_file(path, root)
    if not isinstance(data, Mapping) or not isinstance(data.get("packs"), Mapping):
        raise ConfigError(f"{shown!r} must hold a mapping 'packs: {{<name>: {{...}}}}'")
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise ConfigError(
            f"{shown!r}: unknown top-level key(s) {unknown}; allowed: {', '.join(_TOP_KEYS)}"
        )
    notebooks_dir = data.get("notebooks_dir") or NOTEBOOKS_DIR
    packs = {
        str(name): build_pack(str(name), spec, notebooks_dir=notebooks_dir, root=root)
        for name, spec in data["packs"].items()
    }
    _default_of(data, packs, shown)
    return packs


def _read_packs_file(path: str | Path, root: Path) -> tuple[Any, str]:
    """The packs file's content, and its name for messages (as given, unless packaged)."""
    full = packs_file(path, root=root)
    return read_yaml(full), str(full if full == PACKAGED_REPORTS_YAML else path)


def _default_of(data: Mapping[str, Any], packs: Mapping[str, Pack], shown: str) -> str | None:
    """The packs file's ``default_pack`` (else its first pack); None when it has no pack."""
    default = data.get("default_pack")
    if default is None:
        return next(iter(packs), None)
    if str(default) not in packs:
        raise ConfigError(
            f"{shown!r}: default_pack {default!r} is not a pack of this file "
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
    root = project_root(root)
    if packs is None:
        packs = load_packs(path, root=root)
    data, shown = _read_packs_file(path, root)
    return _default_of(data or {}, packs, shown)


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


__getattr__ = moved(
    __name__,
    {
        "FILE_SUFFIXES": "crmlib.report.parameters",
        "check_date": "crmlib.report.parameters",
        "notebooks_dir_of": "crmlib.report.project",
        "EMAIL_DEFAULTS": "crmlib.report.settings",
        "period_name": "crmlib.report.settings",
    },
)
