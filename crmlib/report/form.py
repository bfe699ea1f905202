"""A form for a notebook's parameters in JupyterLab: change a threshold without editing code.

``parameter_form("02_customer_value", namespace=globals())``, in the cell after the parameters
cell, reads that notebook's parameters cell (names, types, defaults and the comment after each)
and shows one field per parameter, filled with the values the kernel holds now:

* text with suggestions where the comment names quoted choices (``"mean" or "median"``), a
  drop-down for ``language``;
* a number field for ``int`` and ``float``, a tick box for ``bool``;
* a YAML field for ``dict`` and ``list`` parameters (``{recency: 90, frequency: 2}``).

**Apply** checks the values as ``crmwb run`` checks a pack (:func:`~crmlib.report.parameters.
check_parameters`: known names, types, language, ISO dates, files that exist) and sets them in
the kernel; the analyst then runs the cells below. A wrong value is named in the form and
nothing is changed. In a report run (``crmwb run``) nobody would see the form (the cell is
tagged ``remove-cell``), so none is built.
"""

from __future__ import annotations

import ast
import html
import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import yaml

from crmlib.config import REPORT_RUN_ENV, project_dir
from crmlib.errors import ConfigError
from crmlib.i18n import LANGUAGES
from crmlib.report.parameters import check_parameters, inspect_parameters
from crmlib.report.project import notebook_path

__all__ = ["ParameterForm", "choices_of", "parameter_form"]

_QUOTED = re.compile(r'"([^"\s]*)"')
#: What the form says after Apply; HTML, shown in JupyterLab only.
_APPLIED = "✓ Set {changes}. Now run the cells below (Run ▸ Run Selected Cell and All Below)."
_UNCHANGED = "✓ Nothing changed. Run the cells below to compute with these values."
_FAILED = "✗ Nothing changed: {error}"


def choices_of(help_text: str) -> list[str]:
    """The quoted choices a parameter's comment names, in order (``"en" or "zh"`` gives
    ``["en", "zh"]``); an example inside braces (a map) is not a choice."""
    outside = re.sub(r"\{[^}]*\}", "", help_text or "")
    seen: list[str] = []
    for choice in _QUOTED.findall(outside):
        if choice not in seen:
            seen.append(choice)
    return seen


def _default(info: Mapping[str, Any]) -> Any:
    try:
        return ast.literal_eval(str(info.get("default")))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return info.get("default")


def _type_name(info: Mapping[str, Any], value: Any) -> str:
    declared = str(info.get("inferred_type_name") or "").split("|")[0].strip()
    if declared in ("str", "int", "float", "bool", "dict", "list"):
        return declared
    return type(value).__name__


class ParameterForm:
    """The widgets of :func:`parameter_form` and what Apply does; ``widget`` is displayed.

    Attributes
    ----------
    fields
        Parameter name -> its input widget.
    message
        The line under the button: what was set, or why nothing was.
    """

    def __init__(
        self,
        notebook: Path,
        declared: Mapping[str, Mapping[str, Any]],
        namespace: MutableMapping[str, Any],
    ) -> None:
        import ipywidgets as w

        self.notebook = notebook
        self.declared = declared
        self.namespace = namespace
        self.types: dict[str, str] = {}
        self.fields: dict[str, Any] = {}
        rows = []
        for name, info in declared.items():
            value = namespace.get(name, _default(info))
            kind = _type_name(info, value)
            self.types[name] = kind
            field = self._field(w, name, kind, value, str(info.get("help") or ""))
            self.fields[name] = field
            help_label = w.HTML(
                f"<small>{html.escape(str(info.get('help') or ''))}</small>",
                layout=w.Layout(margin="-4px 0 6px 12.5em"),  # under the field, not its name
            )
            rows.append(w.VBox([field, help_label]))
        self.button = w.Button(
            description="Apply", button_style="primary", icon="check",
            layout=w.Layout(margin="8px 0 0 12.5em"),
        )  # fmt: skip
        self.message = w.HTML("", layout=w.Layout(margin="4px 0 0 12.5em"))
        self.button.on_click(lambda _: self.apply())
        self.widget = w.VBox([*rows, self.button, self.message])

    @staticmethod
    def _field(w: Any, name: str, kind: str, value: Any, help_text: str) -> Any:
        style = {"description_width": "12em"}
        layout = w.Layout(width="min(100%, 48em)")
        common = {"description": name, "style": style, "layout": layout}
        if kind == "bool":
            return w.Checkbox(value=bool(value), indent=True, **common)
        if kind == "int":
            return w.IntText(value=int(value), **common)
        if kind == "float":
            return w.FloatText(value=float(value), **common)
        if kind in ("dict", "list"):
            text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip()
            return w.Textarea(value="" if value in ({}, []) else text, **common)
        choices = choices_of(help_text)
        if name == "language":
            return w.Dropdown(options=list(LANGUAGES), value=value, **common)
        if choices:
            return w.Combobox(
                value=str(value), options=choices, ensure_option=False, placeholder="", **common
            )
        return w.Text(value=str(value), **common)

    def values(self) -> dict[str, Any]:
        """The values the form holds, typed as the parameters cell declares them.

        Raises
        ------
        ConfigError
            When a YAML field does not parse or gives the wrong kind of value.
        """
        out: dict[str, Any] = {}
        for name, field in self.fields.items():
            kind = self.types[name]
            value = field.value
            if kind in ("dict", "list"):
                try:
                    value = (
                        yaml.safe_load(value)
                        if str(value).strip()
                        else ({} if kind == "dict" else [])
                    )
                except yaml.YAMLError as exc:
                    raise ConfigError(f"parameter {name!r} is not valid YAML: {exc}") from None
                expected: type = dict if kind == "dict" else list
                if not isinstance(value, expected):
                    raise ConfigError(
                        f"parameter {name!r} must be a {kind} such as "
                        f"{'{recency: 90}' if kind == 'dict' else '[1, 2]'}; got {value!r}"
                    )
            out[name] = value
        return out

    def apply(self) -> dict[str, Any] | None:
        """Check the form's values and set them in the namespace; return what changed, or None
        (and say why in :attr:`message`) when a value is wrong."""
        try:
            values = check_parameters(
                self.notebook, self.values(), root=project_dir(), declared=self.declared
            )
        except ConfigError as exc:
            self.message.value = (
                f'<span style="color:#b00020">{html.escape(_FAILED.format(error=exc))}</span>'
            )
            return None
        changed = {k: v for k, v in values.items() if self.namespace.get(k) != v}
        self.namespace.update(values)
        text = (
            _APPLIED.format(changes=", ".join(f"{k} = {v!r}" for k, v in changed.items()))
            if changed
            else _UNCHANGED
        )
        self.message.value = html.escape(text)
        return changed

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def parameter_form(
    notebook: str | Path, *, namespace: MutableMapping[str, Any]
) -> ParameterForm | None:
    """A form for the parameters of ``notebook``, applied to ``namespace`` (``globals()``).

    In a report run (``crmwb run`` sets :data:`~crmlib.present.page.REPORT_RUN_ENV`) nobody
    sees the form, so none is built and None is returned: reading the parameters cell
    imports papermill and nbformat, about 1.5 s in each notebook's kernel.

    Parameters
    ----------
    notebook
        The notebook's name (``"02_customer_value"``), found as ``crmwb run`` finds it (the
        project's ``notebooks/``, else the packaged ones), or a path to an ``.ipynb``.
    namespace
        Where the parameters live: the kernel's ``globals()``. Fields start from its values.

    Raises
    ------
    ConfigError
        When the notebook is unknown or has no parameters cell.
    """
    if os.environ.get(REPORT_RUN_ENV):
        return None
    path = Path(notebook)
    if path.suffix != ".ipynb":
        path = notebook_path(str(notebook))
    return ParameterForm(path, inspect_parameters(path), namespace)
