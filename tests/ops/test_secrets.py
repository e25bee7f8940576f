"""Secrets: masked in config.yaml, the card, validate and error messages; out of the config hash; read from env."""

from __future__ import annotations

import os

import pytest
import yaml

from conftest import SECRET_KEY, run_cli
from taskmill.config import ConfigError, parse_config
from taskmill.redact import MASK, mask_secrets, mask_text

BASE = {"name": "s", "generators": [{"method": "sql_exec", "tasks_per_table": 1}]}


def with_engine(**engine) -> dict:
    return {**BASE, "engine": {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", **engine}}


def test_key_is_masked_and_not_hashed():
    a = parse_config(with_engine(api_key="sk-first0123456789"))
    b = parse_config(with_engine(api_key="sk-rotated987654321"))
    assert a.engine.api_key == "sk-first0123456789"  # the engine still gets the real key
    assert a.masked()["engine"]["api_key"] == MASK
    assert a.config_hash() == b.config_hash() and a.resolved_run_id == b.resolved_run_id
    # other settings still change the hash
    assert parse_config(with_engine(api_key="x", base_url="http://127.0.0.1:10/v1")).config_hash() != a.config_hash()


def test_placeholders_and_counts_are_not_masked():
    masked = mask_secrets({"api_key": "EMPTY", "max_tokens": 256, "long_token": 30, "api_key_env": "OPENAI_API_KEY", "token": "hf_abcdefgh123"})
    assert masked == {"api_key": "EMPTY", "max_tokens": 256, "long_token": 30, "api_key_env": "OPENAI_API_KEY", "token": MASK}
    assert mask_text("failed with Bearer hf_abcdefgh123456 at x") == f"failed with {MASK} at x"


def test_api_key_env_is_read_and_missing_variable_named(monkeypatch):
    monkeypatch.setenv("TASKMILL_TEST_KEY", "sk-fromenv0123456789")
    cfg = parse_config(with_engine(api_key_env="TASKMILL_TEST_KEY"))
    assert cfg.engine.api_key == "sk-fromenv0123456789" and cfg.masked()["engine"]["api_key"] == MASK
    assert "sk-fromenv" not in yaml.safe_dump(cfg.masked())
    monkeypatch.delenv("TASKMILL_TEST_KEY")
    with pytest.raises(ConfigError, match=r"engine(\.api_key_env)?: .*environment variable TASKMILL_TEST_KEY is not set"):
        parse_config(with_engine(api_key_env="TASKMILL_TEST_KEY"))


def test_misspelt_or_mistyped_secret_is_not_echoed(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_config(with_engine(api_kye="sk-misspelt0123456789"))
    assert "engine.api_kye" in str(err.value) and "sk-misspelt" not in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config(with_engine(api_key=["sk-inalist0123456789"]))
    assert "engine.api_key" in str(err.value) and "sk-inalist" not in str(err.value)
    # the CLI's validate prints the same message
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(with_engine(api_kye="sk-misspelt0123456789")))
    done = run_cli(["validate", str(bad)], timeout=120)
    assert done.returncode == 2 and "engine.api_kye" in done.stderr
    assert "sk-misspelt" not in done.stderr + done.stdout


def test_finished_run_holds_no_secret(finished_run):
    config_yaml = yaml.safe_load(open(os.path.join(finished_run, "config.yaml")))
    assert config_yaml["engine"]["api_key"] == MASK
    for dirpath, _dirs, names in os.walk(finished_run):
        for name in names:
            assert SECRET_KEY.encode() not in open(os.path.join(dirpath, name), "rb").read(), os.path.join(dirpath, name)
    card = open(os.path.join(finished_run, "export", "README.md")).read()
    assert "api_key: '***'" in card


def test_yaml_error_is_one_line_with_its_position(tmp_path):
    from taskmill.config import load_config

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ngenerators:\n  - method: sql_exec\n   tasks: [1\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(bad))
    assert str(err.value).startswith(f"{bad}:4:4: while parsing a block collection") and "\n" not in str(err.value)
