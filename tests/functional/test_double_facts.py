# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The facts the doubles carry (tests/doubles/data) agree with the upstream tables they were
cut from, and every value names where upstream it was read."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "doubles" / "data"


def extractor():
    spec = importlib.util.spec_from_file_location("double_facts_extract", DATA / "extract.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def upstream(shared):
    path = shared / "upstream"
    if not path.is_dir():
        pytest.skip("the upstream tables are not in the shared material (%s is absent)" % path)
    return path


@pytest.mark.parametrize("name, cut", [("k3s.json", "k3s_facts"), ("kubernetes.json", "kubernetes_facts")])
def test_the_project_copy_agrees_with_the_upstream_tables(upstream, name, cut):
    kept = json.loads((DATA / name).read_text(encoding="utf-8"))
    fresh = json.loads(json.dumps(getattr(extractor(), cut)(str(upstream))))
    assert kept == fresh, "%s differs from the tables: run tests/doubles/data/extract.py %s" % (name, upstream)


def test_every_k3s_release_names_its_source():
    releases = json.loads((DATA / "k3s.json").read_text(encoding="utf-8"))["releases"]
    assert "v1.21.4+k3s1" in releases and "v1.31.2+k3s1" in releases
    for name, facts in releases.items():
        source = facts["source"]
        assert source["repository"] == "github.com/k3s-io/k3s", name
        assert len(source["commit"]) == 40 and source["paths"] and source["exactness"], name
        allowance = facts["kubelet_unsafe_sysctls"]
        assert allowance["when"] == "never" or allowance["source"]["path"].startswith("pkg/"), name


def test_every_kubernetes_fact_names_its_source():
    facts = json.loads((DATA / "kubernetes.json").read_text(encoding="utf-8"))
    for api, entry in facts["kubeadm_apis"].items():
        assert entry["source"]["repository"] == "github.com/kubernetes/kubernetes", api
        assert entry["source"]["path"].endswith("/types.go"), api
    for minor, entry in facts["kubelet_safe_sysctls"].items():
        assert entry["source"] and entry["status"], minor
    assert facts["flags_with_config"]["source"]["path"].endswith("validation.go")
