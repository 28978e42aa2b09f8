"""`.gto`, GTO's repository config: the stage list mvtools adopts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvtools.errors import ConfigError
from mvtools.gtoconfig import GtoConfig, parse_gto_config, read_gto_config


def test_the_stage_list_of_a_real_fixture_is_read() -> None:
    cfg = parse_gto_config("stages: [dev, prod, stage]\n")
    assert cfg.stages == ("dev", "prod", "stage") and cfg.types is None
    assert cfg.allows_stage("dev") and not cfg.allows_stage("staging")


def test_no_file_or_no_key_allows_any_stage(tmp_path: Path) -> None:
    assert read_gto_config(tmp_path) == GtoConfig()
    (tmp_path / ".gto").write_text("emojis: true\n")
    assert read_gto_config(tmp_path).allows_stage("anything")


@pytest.mark.parametrize("text, key", [("stages: dev\n", "stages"), ("types: [1]\n", "types"),
                                       ("stages: ['-x']\n", "stages"), ("- a\n", "mapping")])
def test_a_malformed_config_is_one_line_naming_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^\.gto: .*{key}"):
        parse_gto_config(text)
