"""Translations are data: every label has both languages, and lookups fail loudly."""

from __future__ import annotations

import re

import pytest

from crmlib import i18n
from crmlib.errors import ConfigError


def test_every_label_has_every_language_and_no_empty_text():
    catalogue = i18n.catalogue()
    assert catalogue, "no labels were loaded from crmlib/labels/*.yaml"
    for key, texts in catalogue.items():
        assert set(texts) == set(i18n.LANGUAGES), key
        for lang, text in texts.items():
            assert text.strip(), f"{key} is empty in {lang}"


def test_format_fields_agree_between_languages():
    field = re.compile(r"{(\w*)[^}]*}")
    for key, texts in i18n.catalogue().items():
        fields = {lang: sorted(set(field.findall(text))) for lang, text in texts.items()}
        assert fields["en"] == fields["zh"], f"{key} has different fields: {fields}"


def test_lookup_and_fields():
    assert i18n.t("common.revenue", "zh") == "销售额"
    assert i18n.t("common.not_available", "en", reason="no events") == "Not available: no events"
    assert i18n.labels("common", "en")["orders"] == "Orders"


def test_unknown_language_and_key_name_the_problem():
    with pytest.raises(ConfigError, match="language.*'fr'"):
        i18n.t("common.revenue", "fr")
    with pytest.raises(ConfigError, match="no label 'common.nope'"):
        i18n.t("common.nope", "en")


def test_every_label_key_is_text() -> None:
    # YAML reads a bare `yes:` key as True; such a label could never be looked up.
    from crmlib.i18n import catalogue

    assert all(key.split(".", 1)[1] not in ("True", "False") for key in catalogue())
