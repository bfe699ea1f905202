"""Parameter checks and the one loader of YAML params shared by every module.

Business rules (segment schemes, lifecycle thresholds, benchmarks, report packs) are YAML files.
:func:`load_params` reads a topic's file in three layers, each overriding the one before key by
key:

1. the packaged defaults shipped inside ``crmlib`` (the repository's ``params/`` folder, so an
   installed wheel works from any directory);
2. the project's own ``params/<topic>.yaml``, when there is one (the project folder is
   ``CRMWB_PROJECT_DIR``, else the nearest folder from the working directory upwards that holds
   a ``params/`` folder, so a notebook started in ``notebooks/`` finds it);
3. what the call passes: a mapping, or the path of a YAML file.

The check helpers raise :class:`ConfigError` naming the parameter, what is allowed and what was
given.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from crmlib.errors import ConfigError

__all__ = [
    "PARAMS_FOLDER",
    "PROJECT_ENV",
    "DEFAULTS_DIR",
    "PARAMS_DIR",
    "check_choice",
    "check_range",
    "read_yaml",
    "YAML_LOADER",
    "REPORT_RUN_ENV",
    "THREADS_ENV",
    "merge",
    "project_dir",
    "resolve_path",
    "shown_path",
    "resolve_params_file",
    "params_path",
    "load_params",
]


#: Name of the params folder inside a project.
PARAMS_FOLDER = "params"

#: Environment variable naming the project folder (else it is found from the working directory).
PROJECT_ENV = "CRMWB_PROJECT_DIR"

#: Folder of the packaged default params files (installed with the package).
DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults" / "params"

#: Deprecated: the project's params folder as it was addressed before :func:`project_dir`.
PARAMS_DIR = Path(PARAMS_FOLDER)


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise :class:`ConfigError`.

    Parameters
    ----------
    name
        The parameter's name as the user wrote it, e.g. ``"time_unit"``.
    value
        What the user gave.
    allowed
        The values that are accepted.
    """
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(
            f"parameter {name!r} must be one of {', '.join(map(repr, allowed))}; got {value!r}"
        )
    return value


def check_range(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> Any:
    """Return ``value`` if it is a number within the bounds, else raise :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"parameter {name!r} must be a number; got {value!r}")
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        lo = "" if low is None else f"{'>=' if low_inclusive else '>'} {low}"
        hi = "" if high is None else f"{'<=' if high_inclusive else '<'} {high}"
        bounds = " and ".join(b for b in (lo, hi) if b)
        raise ConfigError(f"parameter {name!r} must be {bounds}; got {value!r}")
    return value


#: Set (to any value) in the environment of a report run's kernels (``crmwb run``): tables show
#: no tidy data and no parameter form is built.
REPORT_RUN_ENV = "CRMWB_REPORT_RUN"

#: Environment variable: threads of the embedded DuckDB connection (default: every core). DuckDB
#: adds floating-point numbers in parallel in an order that varies from run to run, so sums may
#: differ in their last bits (about 1e-13) between two runs; one thread makes them repeatable.
#: ``crmwb run`` sets it for notebooks run side by side (:func:`crmlib.report.runner.engine_threads`).
THREADS_ENV = "CRMWB_DUCKDB_THREADS"

#: libyaml's safe loader where PyYAML was built with it (several times faster on the label and
#: params files every kernel reads), else PyYAML's own; both build only plain Python values.
YAML_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file, raising :class:`ConfigError` that names the file on any problem."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"params file {str(path)!r} does not exist")
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        raise ConfigError(f"params file {str(path)!r} is not valid YAML: {exc}") from exc
    except ValueError as exc:  # a value YAML reads as a date but no date has: 2024-13-45
        raise ConfigError(
            f"params file {str(path)!r} holds a value that cannot be read ({exc}); a date must "
            "be a real ISO date (YYYY-MM-DD), or quote the value to keep it text"
        ) from exc


def merge(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """Deep-merge ``override`` onto ``base`` (mappings merge, everything else replaces)."""
    out = dict(base)
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def project_dir() -> Path:
    """The project folder: ``$CRMWB_PROJECT_DIR``, else the nearest folder holding ``params/``.

    The search starts at the working directory and walks up, so a notebook whose kernel starts
    in ``notebooks/`` reads the same params as the CLI run from the project root. Without such a
    folder the working directory is the project.
    """
    env = os.environ.get(PROJECT_ENV)
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / PARAMS_FOLDER).is_dir():
            return folder
    return here


def resolve_path(path: str | Path, *, base: str | Path | None = None) -> Path:
    """``path`` as given when absolute or when it exists from the working directory, else
    relative to ``base`` (the project folder by default)."""
    path = Path(path).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return Path(base if base is not None else project_dir()) / path


def shown_path(path: str | Path, *, base: str | Path | None = None) -> str:
    """``path`` as a report shows it: relative to the project folder (``data/quarantine``) when
    it lies inside, so a page names no folder of the machine that built it; else as given."""
    path = Path(path)
    root = Path(base if base is not None else project_dir()).resolve()
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def resolve_params_file(path: str | Path, *, base: str | Path | None = None) -> Path:
    """A params file named by the user, as :func:`resolve_path` finds it; a ``params/<name>``
    that the project lacks falls back to the packaged default of the same name."""
    found = resolve_path(path, base=base)
    parts = Path(path).parts
    if not found.exists() and len(parts) == 2 and parts[0] == PARAMS_FOLDER:
        packaged = DEFAULTS_DIR / parts[1]
        if packaged.is_file():
            return packaged
    return found


def params_path(name: str, params_dir: str | Path | None = None) -> Path:
    """Path of params file ``name`` (``"segments.yaml"``).

    In ``params_dir`` when given; else the project's ``params/<name>`` when it exists; else the
    packaged default.
    """
    if params_dir is not None:
        return Path(params_dir) / name
    local = project_dir() / PARAMS_FOLDER / name
    return local if local.is_file() else DEFAULTS_DIR / name


def load_params(name: str, params: str | Path | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A topic's params: packaged defaults < the project's file < ``params``, merged key by key.

    Parameters
    ----------
    name
        The topic's file name, e.g. ``"segments.yaml"``.
    params
        Overrides for this call: a mapping, or the path of a YAML file (relative paths are read
        from the working directory, then from the project folder).

    Raises
    ------
    ConfigError
        Naming the file when one does not exist, is not valid YAML or does not hold a mapping.
    """
    layers: list[tuple[str, Any]] = []
    default = DEFAULTS_DIR / name
    if default.is_file():
        layers.append((str(default), read_yaml(default)))
    local = project_dir() / PARAMS_FOLDER / name
    if local.is_file() and (not default.is_file() or not local.resolve().samefile(default)):
        layers.append((str(local), read_yaml(local)))
    if isinstance(params, Mapping):
        layers.append(("the call's params", dict(params)))
    elif params is not None and str(params).strip():  # an empty notebook parameter: no override
        path = resolve_params_file(params)
        layers.append((str(path), read_yaml(path)))
    if not layers:
        raise ConfigError(f"no params file {name!r}: neither packaged nor in {local.parent}")
    out: dict[str, Any] = {}
    for where, data in layers:
        if data is None:
            continue
        if not isinstance(data, Mapping):
            raise ConfigError(f"params {where} must hold a mapping of keys; got {data!r}")
        out = merge(out, data)
    return out
