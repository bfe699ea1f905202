"""Pack definitions are validated against the notebooks before anything runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from crmlib.errors import ConfigError
from crmlib.report import packs as packs_module
from crmlib.report.packs import default_pack, load_packs, resolve_targets
from crmlib.report.parameters import check_parameters
from crmlib.report.project import (
    PACKAGED_NOTEBOOKS_DIR,
    PACKAGED_REPORTS_YAML,
    notebook_path,
    packs_file,
)
from crmlib.report.settings import DEFAULT_TIMEOUT, period_name

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"


def _pack(**settings) -> dict:
    base = {
        "notebooks": ["ok", "failing"],
        "parameters": {
            "defaults": {"data_params": "params/data.yaml"},
            "ok": {"customer_id": "007", "bars": 3},
        },
        "timeout": {"default": 120, "failing": 30},
        "schedule": "0 7 * * 1",
        "timezone": "Asia/Shanghai",
        "recipients": {"success": ["boss@example.com"], "failure": ["team@example.com"]},
        "language": "zh",
        "period": "week",
    }
    base.update(settings)
    return base


def _write(tmp_path: Path, packs: dict, text: str | None = None) -> Path:
    path = tmp_path / "reports.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    else:
        path.write_text(
            yaml.safe_dump({"notebooks_dir": str(FIXTURES), "packs": packs}), encoding="utf-8"
        )
    return path


def _load(tmp_path: Path, **settings):
    return load_packs(_write(tmp_path, {"weekly": _pack(**settings)}), root=ROOT)["weekly"]


def test_valid_pack_merges_defaults_overrides_and_timeouts(tmp_path):
    pack = _load(tmp_path)
    ok, failing = pack.notebooks
    assert (ok.name, failing.name) == ("ok", "failing")
    assert ok.parameters == {
        "data_params": "params/data.yaml",
        "customer_id": "007",
        "bars": 3,
        "language": "zh",
    }
    assert failing.parameters == {"data_params": "params/data.yaml", "language": "zh"}
    assert (ok.timeout, failing.timeout) == (120.0, 30.0)
    assert pack.digest == "ok"  # the first notebook by default
    assert pack.recipients == {"success": ["boss@example.com"], "failure": ["team@example.com"]}
    assert ok.path == FIXTURES / "ok.ipynb"


def test_start_first_starts_those_notebooks_first_and_keeps_the_reading_order(tmp_path):
    pack = _load(tmp_path, notebooks=["ok", "failing", "slow"], start_first=["slow"])
    assert [nb.name for nb in pack.notebooks] == ["ok", "failing", "slow"]
    assert [nb.name for nb in pack.start_order()] == ["slow", "ok", "failing"]
    assert [nb.name for nb in _load(tmp_path).start_order()] == ["ok", "failing"]


def test_timeout_defaults_and_plain_number(tmp_path):
    assert {nb.timeout for nb in _load(tmp_path, timeout=None).notebooks} == {DEFAULT_TIMEOUT}
    assert {nb.timeout for nb in _load(tmp_path, timeout=45).notebooks} == {45.0}


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        # unknown parameter name
        ({"parameters": {"ok": {"colour": "red"}}}, ["'weekly'", "'ok'", "'colour'"]),
        # wrong type: text for an int
        ({"parameters": {"ok": {"bars": "three"}}}, ["'ok'", "'bars'", "must be int"]),
        # an unquoted id in YAML is a number; the notebook wants text
        ({"parameters": {"ok": {"customer_id": 7}}}, ["'customer_id'", "quote it"]),
        # bool is not a number
        ({"parameters": {"ok": {"scale": True}}}, ["'scale'", "must be float"]),
        # missing file for a *_params parameter
        (
            {"parameters": {"defaults": {"data_params": "params/nowhere.yaml"}}},
            ["'data_params'", "nowhere.yaml", "does not exist"],
        ),
        # a shared default no notebook declares
        ({"parameters": {"defaults": {"min_support": 0.1}}}, ["'min_support'"]),
        # overrides for a notebook that is not in the pack
        ({"parameters": {"slow": {"pause": 1.0}}}, ["'slow'", "not notebooks of the pack"]),
        # language belongs to the pack, not the parameters
        ({"parameters": {"ok": {"language": "en"}}}, ["'language'"]),
        ({"notebooks": ["ok", "nope"]}, ["unknown notebook 'nope'", "failing, ok, slow"]),
        ({"notebooks": []}, ["lists no notebooks"]),
        ({"schedule": "61 7 * * 1"}, ["'schedule'", "cron"]),
        ({"schedule": "every monday"}, ["'schedule'"]),
        ({"timezone": "Asia/Beijing"}, ["'timezone'", "Asia/Beijing"]),
        ({"language": "fr"}, ["'language'", "'fr'"]),
        ({"period": "quarter"}, ["'period'", "'quarter'"]),
        ({"digest": "slow"}, ["'digest'"]),
        ({"timeout": {"default": 0}}, ["'timeout'"]),
        ({"timeout": {"ok": -5}}, ["'ok'", "'timeout'"]),
        ({"timeout": {"slow": 5}}, ["timeout names ['slow']"]),
        ({"recipients": {"success": ["not-an-address"]}}, ["not-an-address"]),
        ({"recipients": {"sucess": ["a@example.com"]}}, ["'success' and 'failure'"]),
        ({"schedul": "0 7 * * 1"}, ["unknown setting", "schedul"]),
        ({"start_first": ["slow"]}, ["start_first", "'slow'", "ok, failing"]),
        ({"start_first": ["ok", "ok"]}, ["start_first", "each once"]),
        ({"start_first": {"ok": 1}}, ["start_first must be a list of names"]),
    ],
)
def test_invalid_pack_names_pack_notebook_and_parameter(tmp_path, settings, names):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, **settings)
    message = str(info.value)
    assert "'weekly'" in message
    for name in names:
        assert name in message


def test_bad_pack_name_and_file_structure(tmp_path):
    with pytest.raises(ConfigError, match="pack name"):
        load_packs(_write(tmp_path, {"../evil": _pack()}), root=ROOT)
    with pytest.raises(ConfigError, match="packs"):
        load_packs(_write(tmp_path, {}, text="weekly: {notebooks: [ok]}\n"), root=ROOT)
    with pytest.raises(ConfigError, match="unknown top-level"):
        load_packs(
            _write(tmp_path, {}, text=f"notebooks_dir: {FIXTURES}\npacks: {{}}\nextra: 1\n"),
            root=ROOT,
        )


def test_yaml_dates_become_iso_strings(tmp_path):
    text = (
        f"notebooks_dir: {FIXTURES}\n"
        "packs:\n"
        "  fixed:\n"
        "    notebooks: [ok]\n"
        "    parameters:\n"
        "      ok: {as_of: 2026-09-30, title: 2026-10-01}\n"
    )
    pack = load_packs(_write(tmp_path, {}, text=text), root=ROOT)["fixed"]
    params = pack.notebook("ok").parameters
    assert params["as_of"] == "2026-09-30"
    assert params["title"] == "2026-10-01"
    assert isinstance(params["title"], str)


def test_check_parameters_against_notebook_cell():
    nb = FIXTURES / "ok.ipynb"
    assert check_parameters(nb, {"bars": 2, "scale": 2}, root=ROOT) == {"bars": 2, "scale": 2}
    assert check_parameters(nb, {"as_of": dt.date(2026, 1, 31)}, root=ROOT) == {
        "as_of": "2026-01-31"
    }
    with pytest.raises(ConfigError, match="ISO date"):
        check_parameters(nb, {"as_of": "31/01/2026"}, root=ROOT)
    with pytest.raises(ConfigError, match="'language' must be one of"):
        check_parameters(nb, {"language": "de"}, root=ROOT)
    # the notebook's own default for a *_params parameter must exist too
    with pytest.raises(ConfigError, match="notebook's default"):
        check_parameters(nb, {}, root=ROOT / "tests")


@pytest.mark.parametrize(
    ("period", "day", "expected"),
    [
        ("week", dt.date(2026, 11, 22), "2026-W47"),  # a Sunday ends ISO week 47
        ("week", dt.date(2026, 11, 23), "2026-W48"),  # the Monday after starts week 48
        ("week", dt.date(2027, 1, 1), "2026-W53"),  # 2026 starts on a Thursday: 53 weeks
        ("week", dt.date(2024, 12, 30), "2025-W01"),  # a Monday in week 1 of 2025
        ("month", dt.date(2026, 11, 22), "2026-11"),
        ("day", dt.date(2026, 11, 2), "2026-11-02"),
    ],
)
def test_period_name(period, day, expected):
    assert period_name(period, day) == expected


def test_targets_resolve_to_packs_and_single_notebooks(tmp_path):
    packs = load_packs(_write(tmp_path, {"weekly": _pack()}), root=ROOT)
    chosen = resolve_targets(["slow", "weekly"], packs=packs, notebooks_dir=FIXTURES, root=ROOT)
    assert [p.name for p in chosen] == ["slow", "weekly"]
    single = chosen[0]
    assert [nb.name for nb in single.notebooks] == ["slow"]
    assert single.period == "day"
    assert resolve_targets([], packs=packs, all_packs=True, notebooks_dir=FIXTURES, root=ROOT)
    with pytest.raises(ConfigError, match="neither a pack"):
        resolve_targets(["montly"], packs=packs, notebooks_dir=FIXTURES, root=ROOT)
    with pytest.raises(ConfigError, match="nothing to run"):
        resolve_targets([], packs=packs, notebooks_dir=FIXTURES, root=ROOT)
    as_path = resolve_targets(
        ["tests/fixtures/notebooks/slow.ipynb", "ok.ipynb"],
        packs=packs,
        notebooks_dir=FIXTURES,
        root=ROOT,
    )
    assert [p.name for p in as_path] == ["slow", "ok"]


def test_no_target_runs_the_default_pack(tmp_path):
    two = {"weekly": _pack(), "monthly": _pack(period="month")}
    text = yaml.safe_dump({"notebooks_dir": str(FIXTURES), "packs": two}, sort_keys=False)
    path = _write(tmp_path, two, text=text)
    packs = load_packs(path, root=ROOT)
    assert default_pack(path, root=ROOT) == "weekly"  # no default_pack: the first pack
    chosen = resolve_targets([], packs=packs, notebooks_dir=FIXTURES, root=ROOT, default="weekly")
    assert [p.name for p in chosen] == ["weekly"]

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(
        yaml.safe_dump({**data, "default_pack": "monthly"}, sort_keys=False), encoding="utf-8"
    )
    assert default_pack(path, root=ROOT, packs=load_packs(path, root=ROOT)) == "monthly"
    path.write_text(yaml.safe_dump({**data, "default_pack": "daily"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="default_pack 'daily' is not a pack"):
        load_packs(path, root=ROOT)


def test_shipped_default_pack_runs_the_summary_campaigns_and_benchmarks():
    """Issue 7: notebooks 00, 06 and 07 run in the default pack."""
    packs = load_packs(ROOT / "params" / "reports.yaml", root=ROOT)
    default = default_pack(ROOT / "params" / "reports.yaml", root=ROOT, packs=packs)
    names = {nb.name for nb in packs[default].notebooks}
    assert {"00_executive_summary", "06_campaigns_channels", "07_benchmarks"} <= names


def test_shipped_packs_file_is_valid():
    packs = load_packs(ROOT / "params" / "reports.yaml", root=ROOT)
    assert packs, "params/reports.yaml defines no pack"
    for pack in packs.values():
        assert pack.schedule, f"shipped pack {pack.name} has no schedule"
        for nb in pack.notebooks:
            assert nb.path.parent == ROOT / "notebooks"


def test_email_settings_are_checked_and_kept(tmp_path):
    email = {
        "report_base_url": "https://reports.example.com/crm",
        "attach_limit_mb": 2.5,
        "allow_personal_data": True,
        "max_table_rows": 5,
        "max_table_columns": 6,
        "max_charts": 3,
        "max_html_kb": 80,
        "send_when_nothing_changed": False,
    }
    assert _load(tmp_path, email=email).email == email
    assert _load(tmp_path).email == {}
    # the names are the ones the email digest reads, and only those
    from crmlib.report import email as report_email

    assert set(email) == set(report_email.EMAIL_DEFAULTS)


@pytest.mark.parametrize(
    ("email", "names"),
    [
        ({"max_rows": 5}, ["'weekly'", "max_rows", "max_table_rows"]),
        ({"max_table_rows": "5"}, ["'weekly'", "email.max_table_rows", "int"]),
        ({"max_table_rows": 2.5}, ["'weekly'", "email.max_table_rows", "int"]),
        ({"max_charts": 0}, ["'weekly'", "email.max_charts", ">= 1"]),
        ({"allow_personal_data": "yes"}, ["'weekly'", "email.allow_personal_data", "bool"]),
        ({"attach_limit_mb": True}, ["'weekly'", "email.attach_limit_mb", "number"]),
        ({"max_html_kb": 500}, ["'weekly'", "email.max_html_kb", "<= 102"]),
        ({"report_base_url": 7}, ["'weekly'", "email.report_base_url", "str"]),
        (["max_charts"], ["'weekly'", "email must be a mapping"]),
    ],
)
def test_bad_email_settings_name_pack_and_key(tmp_path, email, names):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, email=email)
    for name in names:
        assert name in str(info.value)


def test_description_is_the_email_title(tmp_path):
    assert _load(tmp_path, description="Weekly overview.").title() == "Weekly overview"
    assert _load(tmp_path).title() == "weekly"  # no description: the pack name
    both = _load(tmp_path, description={"en": "Weekly overview", "zh": "每周概览。"})
    assert (both.title(), both.title("en")) == ("每周概览", "Weekly overview")  # pack language zh
    with pytest.raises(ConfigError, match="description"):
        _load(tmp_path, description={"fr": "Aperçu"})


@pytest.fixture
def bare_project(tmp_path, monkeypatch):
    """A folder holding only a data params file, the working directory (an installed workbook)."""
    project = tmp_path / "shop"
    (project / "params").mkdir(parents=True)
    (project / "params" / "data.yaml").write_text("transactions: {path: sales.csv}\n")
    monkeypatch.chdir(project)
    monkeypatch.delenv("CRMWB_PROJECT_DIR", raising=False)
    return project.resolve()


def test_a_project_without_packs_file_or_notebooks_uses_the_packaged_ones(bare_project):
    assert packs_file() == PACKAGED_REPORTS_YAML
    path = notebook_path("01_data_quality")
    assert path == (PACKAGED_NOTEBOOKS_DIR / "01_data_quality.ipynb").resolve()
    # a packaged notebook run alone, against the project's data params
    [single] = resolve_targets(["01_data_quality"], packs={})
    assert single.root == bare_project
    assert single.notebook("01_data_quality").path == path
    assert single.notebook("01_data_quality").parameters == {"language": "en"}
    # the project's own packs file and notebook win over the packaged ones
    (bare_project / "notebooks").mkdir()
    (bare_project / "notebooks" / "01_data_quality.ipynb").write_bytes(path.read_bytes())
    (bare_project / "params" / "reports.yaml").write_text(
        "packs:\n  mine: {notebooks: [01_data_quality, 00_executive_summary], period: day}\n"
    )
    assert packs_file() == bare_project / "params" / "reports.yaml"
    packs = load_packs()
    assert default_pack(packs=packs) == "mine"
    mine = packs["mine"]
    assert mine.notebook("01_data_quality").path.parent == bare_project / "notebooks"
    assert mine.notebook("00_executive_summary").path.parent == PACKAGED_NOTEBOOKS_DIR.resolve()
    # the data params file a notebook reads must exist in the project
    (bare_project / "params" / "data.yaml").unlink()
    with pytest.raises(ConfigError, match="'data_params'.*params/data.yaml"):
        load_packs()


def test_the_packaged_packs_load_in_a_project_with_only_data_params(bare_project):
    packs = load_packs()
    assert default_pack(packs=packs) in packs


def test_old_names_in_packs_still_work_and_warn():
    with pytest.warns(DeprecationWarning, match="crmlib.report.settings"):
        assert packs_module.period_name("month", dt.date(2026, 11, 22)) == "2026-11"
