"""The one params loader: packaged defaults < the project's params/ file < the call."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from crmlib import compat, config
from crmlib.errors import ConfigError


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "params").mkdir()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.delenv(config.PROJECT_ENV, raising=False)
    monkeypatch.chdir(tmp_path / "notebooks")
    return tmp_path


def test_packaged_defaults_ship_inside_the_package() -> None:
    assert config.DEFAULTS_DIR.is_relative_to(Path(config.__file__).resolve().parent)
    for name in ("segments.yaml", "lifecycle.yaml", "kpis.yaml", "benchmarks.yaml", "reports.yaml"):
        assert (config.DEFAULTS_DIR / name).is_file(), name


def test_project_is_found_from_a_subfolder(project: Path) -> None:
    # A JupyterLab kernel starts in notebooks/; the project is the folder holding params/.
    assert config.project_dir() == project.resolve()


def test_environment_variable_names_the_project(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.setenv(config.PROJECT_ENV, str(other))
    assert config.project_dir() == other.resolve()


def test_layers_merge_key_by_key(project: Path) -> None:
    shipped = config.load_params("lifecycle.yaml")
    (project / "params" / "lifecycle.yaml").write_text("period: quarter\n", encoding="utf-8")
    merged = config.load_params("lifecycle.yaml")
    assert merged["period"] == "quarter"
    # every other key still comes from the packaged defaults
    assert {k: v for k, v in merged.items() if k != "period"} == {
        k: v for k, v in shipped.items() if k != "period"
    }
    call = config.load_params("lifecycle.yaml", {"period": "month"})
    assert call["period"] == "month"


def test_a_call_may_name_a_yaml_file(project: Path) -> None:
    (project / "mine.yaml").write_text("period: quarter\n", encoding="utf-8")
    assert config.load_params("lifecycle.yaml", project / "mine.yaml")["period"] == "quarter"


def test_errors_name_the_file(project: Path) -> None:
    bad = project / "params" / "lifecycle.yaml"
    bad.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lifecycle\.yaml.*must hold a mapping"):
        config.load_params("lifecycle.yaml")
    bad.write_text("period: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lifecycle\.yaml.*not valid YAML"):
        config.load_params("lifecycle.yaml")
    bad.unlink()
    with pytest.raises(ConfigError, match=r"missing\.yaml.*does not exist"):
        config.load_params("lifecycle.yaml", "missing.yaml")
    with pytest.raises(ConfigError, match="no params file 'nothing.yaml'"):
        config.load_params("nothing.yaml")


def test_params_path_prefers_the_project_file(project: Path) -> None:
    assert config.params_path("segments.yaml") == config.DEFAULTS_DIR / "segments.yaml"
    (project / "params" / "segments.yaml").write_text("{}\n", encoding="utf-8")
    assert config.params_path("segments.yaml") == project.resolve() / "params" / "segments.yaml"


def test_moved_names_warn_and_still_work() -> None:
    getter = compat.moved(
        "crmlib.old", {"percent": "crmlib.present.format", "n": "crmlib.present.format:number"}
    )
    with pytest.warns(
        DeprecationWarning, match=r"crmlib\.old\.n moved to crmlib\.present\.format\.number"
    ):
        assert getter("n")(1234) == "1,234"
    with pytest.warns(DeprecationWarning):
        assert getter("percent")(0.5) == "50.0%"
    with pytest.raises(AttributeError, match="no attribute 'other'"):
        getter("other")


def test_renamed_keyword() -> None:
    kwargs = {"rules": {"a": 1}}
    with pytest.warns(DeprecationWarning, match="'rules' is deprecated, use 'params'"):
        assert compat.renamed_keyword("f", kwargs, "rules", "params") == {"a": 1}
    assert kwargs == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compat.renamed_keyword("f", {}, "rules", "params", 5) == 5
    with pytest.raises(TypeError, match="both 'params' and its deprecated alias 'rules'"):
        compat.renamed_keyword("f", {"rules": 1}, "rules", "params", 2)


def test_a_params_file_the_project_lacks_falls_back_to_the_packaged_one(project: Path) -> None:
    assert (
        config.resolve_params_file("params/channels.yaml") == config.DEFAULTS_DIR / "channels.yaml"
    )
    (project / "params" / "channels.yaml").write_text("channels: {}\n", encoding="utf-8")
    assert (
        config.resolve_params_file("params/channels.yaml").resolve()
        == (project / "params" / "channels.yaml").resolve()
    )


def test_a_path_inside_the_project_is_shown_relative_to_it(tmp_path):
    from crmlib.config import shown_path

    (tmp_path / "data" / "quarantine").mkdir(parents=True)
    assert shown_path(tmp_path / "data" / "quarantine", base=tmp_path) == "data/quarantine"
    assert shown_path("/srv/elsewhere", base=tmp_path) == "/srv/elsewhere"
