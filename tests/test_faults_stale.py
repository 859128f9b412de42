"""Fault injection, stale results: editing a plugin module (parameter `plugins`) changes the reuse
key of every stage, so they run again; a study without plugins keeps its keys."""
import importlib
import json
import sys

import pytest

from helpers.core.files import ROOT
from helpers.core.plugins import PluginError, plugin_sources
from helpers.core.reuse import reuse_key
from helpers.pipeline import runner

NOTEBOOK = ROOT / "notebooks" / "A1_data.ipynb"


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    (tmp_path / "my_lab").mkdir()
    (tmp_path / "my_lab" / "__init__.py").write_text("")
    module = tmp_path / "my_lab" / "models.py"
    module.write_text("WIDTH = 8\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield module
    sys.modules.pop("my_lab.models", None)
    sys.modules.pop("my_lab", None)


def _key(plugins):
    return runner._stage_key(NOTEBOOK, {"seed": 0}, "data", "", plugin_sources(plugins))


def test_editing_a_plugin_changes_the_stage_key(plugin):
    before = _key(["my_lab.models"])
    assert _key(["my_lab.models"]) == before
    plugin.write_text("WIDTH = 16\n")
    assert _key(["my_lab.models"]) != before
    # a package named as the plugin counts every module under it
    package_before = _key(["my_lab"])
    (plugin.parent / "attacks.py").write_text("EPS = 0.1\n")
    assert _key(["my_lab"]) != package_before


def test_a_study_without_plugins_keeps_its_keys():
    cells = [c["source"] for c in json.loads(NOTEBOOK.read_text())["cells"]]
    assert _key([]) == reuse_key(code=["helpers"], notebook=cells, params={"seed": 0}, data="data", upstream="")


def test_a_missing_plugin_is_named():
    with pytest.raises(PluginError, match="no_such_lab"):
        plugin_sources(["no_such_lab.models"])
