"""Where a project's report files are: its own packs file and notebooks, else the packaged ones.

The project folder is :func:`crmlib.config.project_dir` (``$CRMWB_PROJECT_DIR``, else the
nearest folder upwards from the working directory that holds ``params/``). Notebooks run there
and relative paths in the packs file start there. A project's own ``params/reports.yaml`` and
``notebooks/<name>.ipynb`` win; without them the packs file and notebooks packaged with crmlib
are used, so an installed workbook runs in a folder that holds only its data params.
"""

from __future__ import annotations

import re
from pathlib import Path

from crmlib.config import DEFAULTS_DIR, project_dir, read_yaml
from crmlib.errors import ConfigError

__all__ = [
    "NAME_PATTERN",
    "NOTEBOOKS_DIR",
    "PACKAGED_NOTEBOOKS_DIR",
    "PACKAGED_REPORTS_YAML",
    "REPORTS_YAML",
    "notebook_folders",
    "notebook_path",
    "notebooks_dir_of",
    "packs_file",
    "project_root",
]

#: Location of the packs file and of the notebooks, relative to the project folder.
REPORTS_YAML = Path("params/reports.yaml")
NOTEBOOKS_DIR = Path("notebooks")
#: The packs file and the notebooks packaged with crmlib, for a project without its own.
PACKAGED_REPORTS_YAML = DEFAULTS_DIR / REPORTS_YAML.name
PACKAGED_NOTEBOOKS_DIR = DEFAULTS_DIR.parent / "notebooks"
#: What a pack or notebook name may look like (it names a folder of the archive).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\Z")


def project_root(root: str | Path | None = None) -> Path:
    """``root`` made absolute, or the project folder (:func:`crmlib.config.project_dir`)."""
    return Path(root).resolve() if root is not None else project_dir()


def packs_file(path: str | Path = REPORTS_YAML, *, root: str | Path | None = None) -> Path:
    """The packs file to read for ``path``.

    A relative ``path`` starts at ``root`` (default: the project folder). When ``path`` is the
    default ``params/reports.yaml`` and the project has none, it is the packaged
    :data:`PACKAGED_REPORTS_YAML`.
    """
    path = Path(path)
    full = path if path.is_absolute() else project_root(root) / path
    if not full.exists() and path == REPORTS_YAML and PACKAGED_REPORTS_YAML.is_file():
        return PACKAGED_REPORTS_YAML
    return full


def notebooks_dir_of(path: str | Path = REPORTS_YAML, *, root: str | Path | None = None) -> Path:
    """The notebooks folder the packs file ``path`` points at (``notebooks/`` unless it says
    otherwise), under ``root``."""
    root = project_root(root)
    full = packs_file(path, root=root)
    data = read_yaml(full) if full.exists() else {}
    return root / ((data or {}).get("notebooks_dir") or NOTEBOOKS_DIR)


def notebook_folders(
    notebooks_dir: str | Path = NOTEBOOKS_DIR, *, root: str | Path | None = None
) -> list[Path]:
    """Where notebooks are looked for, in order: ``notebooks_dir`` under ``root``; for the
    project's default ``notebooks/``, then the packaged notebooks."""
    root = project_root(root)
    folder = root / notebooks_dir
    folders = [folder]
    default = folder.resolve() == (root / NOTEBOOKS_DIR).resolve()
    packaged = PACKAGED_NOTEBOOKS_DIR
    if default and packaged.is_dir() and packaged.resolve() != folder.resolve():
        folders.append(packaged)
    return folders


def notebook_path(
    name: str, *, notebooks_dir: str | Path = NOTEBOOKS_DIR, root: str | Path | None = None
) -> Path:
    """Absolute path of notebook ``name`` (without ``.ipynb``) in ``notebooks_dir``.

    ``notebooks_dir`` starts at ``root`` (default: the project folder). In the default
    ``notebooks/`` folder, a notebook the project does not have is taken from the packaged
    notebooks (:data:`PACKAGED_NOTEBOOKS_DIR`); the project's own copy wins.

    Raises
    ------
    ConfigError
        Naming the folders looked in and the notebooks they hold.
    """
    folders = notebook_folders(notebooks_dir, root=root)
    if NAME_PATTERN.match(name):
        for folder in folders:
            path = folder / f"{name}.ipynb"
            if path.is_file():
                return path.resolve()
    known = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.ipynb")})
    raise ConfigError(
        f"unknown notebook {name!r}: no {name}.ipynb in {' or '.join(map(str, folders))}; "
        f"known notebooks: {', '.join(known) or 'none'}"
    )
