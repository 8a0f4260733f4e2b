"""Every process setting and every run-time configuration key is documented: docs/configuration.md
lists each (settings with the code's default), and both environment templates list every setting
with its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tds_core.config.runtime import RuntimeConfig
from tds_core.settings import Settings
from tests.deploy.support import DOCKER, DOCS, SYSTEMD, env_default, env_name

CONFIGURATION = (DOCS / "configuration.md").read_text()
SETTINGS = sorted(Settings.model_fields)
RUNTIME_KEYS = sorted(name.replace("__", ".") for name in RuntimeConfig.model_fields)
TEMPLATES = [DOCKER / ".env.example", SYSTEMD / "tds.env.example"]


def table_row(text: str, cell: str) -> list[str] | None:
    """The cells of the Markdown table row whose first cell is `cell`."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == f"`{cell}`":
            return cells
    return None


@pytest.mark.parametrize("field", SETTINGS)
def test_configuration_md_lists_each_setting_with_its_default(field: str) -> None:
    row = table_row(CONFIGURATION, env_name(field))
    assert row is not None, f"docs/configuration.md has no row for {env_name(field)}"
    assert row[1] == env_default(field), f"{env_name(field)}: documented {row[1]!r}"
    assert row[-1], "with its meaning"


@pytest.mark.parametrize("key", RUNTIME_KEYS)
def test_configuration_md_lists_each_runtime_key(key: str) -> None:
    row = table_row(CONFIGURATION, key)
    assert row is not None, f"docs/configuration.md has no row for {key}"
    assert row[-1], "with its meaning"


def test_configuration_md_documents_nothing_that_does_not_exist() -> None:
    documented = set(re.findall(r"^\| `(TDS_[A-Z_]+)` \|", CONFIGURATION, re.MULTILINE))
    assert documented - {"TDS_OPERATOR"} == {env_name(f) for f in SETTINGS}
    keys = set(re.findall(r"^\| `([a-z]+\.[a-z_]+)` \|", CONFIGURATION, re.MULTILINE))
    assert keys == set(RUNTIME_KEYS)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
@pytest.mark.parametrize("field", SETTINGS)
def test_env_templates_list_each_setting_with_its_default(template: Path, field: str) -> None:
    lines = template.read_text().splitlines()
    name = env_name(field)
    at = [i for i, line in enumerate(lines) if re.match(rf"^(# )?{name}=", line)]
    assert len(at) == 1, f"{template}: {name} once, as `{name}=` or `# {name}=`"
    meaning = lines[at[0] - 1]
    assert meaning.startswith("# ") and not re.match(r"^# TDS_[A-Z_]+=", meaning), "a meaning above it"
    assert f"(default: {env_default(field)}" in meaning, f"{name}: {meaning!r}"
    if lines[at[0]].startswith("# "):  # commented out = the default applies: show it
        value = lines[at[0]].split("=", 1)[1]
        assert value == ("" if env_default(field) == "unset" else env_default(field))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_env_templates_name_only_real_settings(template: Path) -> None:
    names = set(re.findall(r"^(?:# )?(TDS_[A-Z_]+)=", template.read_text(), re.MULTILINE))
    assert names == {env_name(f) for f in SETTINGS}
