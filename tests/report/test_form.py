"""The parameter form: one field per parameter of the notebook, Apply checks and sets them."""

from __future__ import annotations

import os
import subprocess
import sys

import ipywidgets as w
import pytest

from crmlib.errors import ConfigError
from crmlib.present.page import REPORT_RUN_ENV
from crmlib.report.form import choices_of, parameter_form


@pytest.fixture(autouse=True)
def _in_jupyterlab(monkeypatch: pytest.MonkeyPatch) -> None:
    """The form is for an analyst's kernel, not a report run."""
    monkeypatch.delenv(REPORT_RUN_ENV, raising=False)


def test_choices_are_the_quoted_words_of_the_comment_outside_examples():
    assert choices_of('report language: "en" or "zh"') == ["en", "zh"]
    assert choices_of('"highlow", "quantile" or "edges"; empty means the default') == [
        "highlow",
        "quantile",
        "edges",
    ]
    assert choices_of('thresholds, e.g. {"recency": 90, "frequency": 2}') == []
    assert choices_of("") == []


def _form(**namespace):
    return parameter_form("02_customer_value", namespace=dict(namespace))


def test_one_field_per_parameter_of_the_kind_its_annotation_says():
    form = _form()
    kinds = {name: type(field) for name, field in form.fields.items()}
    assert kinds["language"] is w.Dropdown
    assert kinds["scoring"] is w.Combobox
    assert form.fields["scoring"].options == ("highlow", "quantile", "edges")
    assert kinds["bins"] is w.IntText
    assert kinds["include_personal"] is w.Checkbox
    assert kinds["edges"] is w.Textarea and kinds["thresholds"] is w.Textarea
    assert kinds["data_params"] is w.Text
    assert set(form.fields) >= {"data_params", "language", "as_of", "edges", "thresholds"}


def test_fields_start_from_the_values_the_kernel_holds():
    form = _form(scheme="en11", bins=5, language="zh", thresholds={"recency": 90})
    assert form.fields["scheme"].value == "en11"
    assert form.fields["bins"].value == 5
    assert form.fields["language"].value == "zh"
    assert form.fields["thresholds"].value == "{recency: 90}"
    assert form.fields["split"].value == "mean"  # not in the kernel: the notebook's default


def test_apply_sets_typed_values_and_says_what_changed():
    namespace = {"scoring": "", "edges": {}, "bins": 0, "language": "en"}
    form = parameter_form("02_customer_value", namespace=namespace)
    form.fields["scoring"].value = "edges"
    form.fields[
        "edges"
    ].value = "{recency: [0, 90, 100000], frequency: [1, 2, 1000], monetary: [0, 500, 1000000]}"
    form.fields["language"].value = "zh"
    form.fields["bins"].value = 5
    form.button.click()  # what a click in JupyterLab does
    assert namespace["scoring"] == "edges"
    assert namespace["edges"] == {
        "recency": [0, 90, 100000],
        "frequency": [1, 2, 1000],
        "monetary": [0, 500, 1000000],
    }
    assert namespace["language"] == "zh"
    assert namespace["bins"] == 5 and isinstance(namespace["bins"], int)
    assert "scoring = &#x27;edges&#x27;" in form.message.value
    assert "run the cells below" in form.message.value


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("as_of", "2026-13-01", "parameter &#x27;as_of&#x27; must be an ISO date"),
        ("edges", "{recency: [0, 90", "parameter &#x27;edges&#x27; is not valid YAML"),
        ("edges", "[1, 2]", "parameter &#x27;edges&#x27; must be a dict"),
        ("data_params", "params/nowhere.yaml", "file &#x27;params/nowhere.yaml&#x27;"),
    ],
)
def test_a_wrong_value_is_named_and_nothing_changes(field, value, message):
    namespace = {"scoring": "", "as_of": ""}
    form = parameter_form("02_customer_value", namespace=namespace)
    form.fields["scoring"].value = "quantile"
    form.fields[field].value = value
    assert form.apply() is None
    assert message in form.message.value and "Nothing changed" in form.message.value
    assert namespace == {"scoring": "", "as_of": ""}


def test_an_unknown_notebook_is_named():
    with pytest.raises(ConfigError, match="unknown notebook '99_nothing'"):
        parameter_form("99_nothing", namespace={})


def test_every_notebook_offers_the_form_after_its_parameters_cell():
    from pathlib import Path

    import nbformat

    for path in sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        i = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        form = nb.cells[i + 1]
        assert f'parameter_form("{path.stem}", namespace=globals())' in form.source, path.name
        assert "remove-cell" in form.metadata.get("tags", []), f"{path.name}: form on the page"
        parameter_form(path.stem, namespace={})  # builds for every notebook's parameters


def test_a_report_run_builds_no_form_and_imports_no_papermill() -> None:
    """Nobody sees the form in ``crmwb run``: the cell costs nothing there (papermill and
    nbformat take about 1.5 s to import in each kernel)."""
    code = (
        "import sys\n"
        "from crmlib.report.form import parameter_form\n"
        "assert parameter_form('02_customer_value', namespace={}) is None\n"
        "print(sorted(m for m in ('papermill', 'nbformat') if m in sys.modules))\n"
    )
    env = {**os.environ, REPORT_RUN_ENV: "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"
