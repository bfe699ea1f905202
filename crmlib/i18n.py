"""Report text in Chinese or English.

Translations are data: every ``crmlib/labels/<topic>.yaml`` maps a key to its text per language,

.. code-block:: yaml

    segment_overview: {en: Segment overview, zh: 客群概览}

and the key is addressed as ``"<topic>.<key>"`` (``t("rfm.segment_overview", "zh")``). Texts may
hold ``str.format`` fields filled from keyword arguments.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from crmlib.config import YAML_LOADER, check_choice
from crmlib.errors import ConfigError

__all__ = [
    "LANGUAGES",
    "catalogue",
    "check_language",
    "t",
    "has",
    "labels",
]


#: Languages a report can be written in.
LANGUAGES: tuple[str, ...] = ("en", "zh")


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every label of every topic file, keyed ``"<topic>.<key>"``."""
    out: dict[str, dict[str, str]] = {}
    for entry in sorted(resources.files("crmlib").joinpath("labels").iterdir(), key=str):
        if not entry.name.endswith(".yaml"):
            continue
        topic = entry.name.removesuffix(".yaml")
        data = yaml.load(entry.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
        for key, texts in data.items():
            if not isinstance(key, str):
                # YAML reads bare yes/no/on/off keys as booleans: quote them in the file
                raise ConfigError(
                    f"label key {key!r} in labels/{entry.name} is not text; quote it in the YAML"
                )
            if not isinstance(texts, dict) or set(texts) != set(LANGUAGES):
                raise ConfigError(
                    f"label {topic}.{key} in labels/{entry.name} must give exactly "
                    f"{', '.join(LANGUAGES)}; got {texts!r}"
                )
            out[f"{topic}.{key}"] = {lang: str(text) for lang, text in texts.items()}
    return out


def check_language(language: str) -> str:
    """Return ``language`` if supported, else raise :class:`ConfigError`."""
    return check_choice("language", language, LANGUAGES)


def t(key: str, language: str = "en", /, **fields: Any) -> str:
    """The text of label ``key`` in ``language``, with ``fields`` filled in.

    Raises
    ------
    ConfigError
        When the label or the language is unknown.
    """
    check_language(language)
    try:
        text = catalogue()[key][language]
    except KeyError:
        raise ConfigError(f"no label {key!r} in crmlib/labels/*.yaml") from None
    return text.format(**fields) if fields else text


def has(key: str) -> bool:
    """Whether label ``key`` exists (for optional texts such as a section's explanation)."""
    return key in catalogue()


def labels(prefix: str, language: str = "en") -> dict[str, str]:
    """All labels under ``"<prefix>."`` in ``language``, keyed without the prefix.

    Handy for renaming DataFrame columns: ``df.rename(columns=labels("rfm", "zh"))``.
    """
    check_language(language)
    start = prefix.rstrip(".") + "."
    return {
        k.removeprefix(start): v[language] for k, v in catalogue().items() if k.startswith(start)
    }
