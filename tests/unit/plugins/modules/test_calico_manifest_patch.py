# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""calico_manifest_patch through main(): files, check mode, diff, backup, failures."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.dualstack.kubernetes.plugins.modules import calico_manifest_patch as module
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils.test_calico_manifest import (
    INSTALLATION,
    env_of,
    manifest,
)

ARTICLE = dict(mtu=1500, ipv4_encapsulation="none", ipv6_nat_outgoing=True)


def run(capsys, args, check_mode=False, diff=False):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            module.main()
    return exited.value.code != 0, json.loads(capsys.readouterr().out)


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "calico.yaml"
    path.write_text(manifest("v3.15.1"))
    return path


def test_in_place_then_no_change(capsys, src):
    failed, result = run(capsys, dict(src=str(src), **ARTICLE))
    assert not failed and result["changed"]
    assert result["dest"] == str(src)
    assert result["manifest_type"] == "manifest"
    assert result["calico_version"] == "v3.15.1"
    assert (result["lines_removed"], result["lines_added"]) == (4, 10)
    assert env_of(src.read_text())["CALICO_IPV6POOL_NAT_OUTGOING"] == "true"
    failed, again = run(capsys, dict(src=str(src), **ARTICLE))
    assert not failed and not again["changed"] and again["changes"] == []


def test_check_mode_writes_nothing_and_reports_the_same_change(capsys, src):
    before = src.read_bytes()
    failed, checked = run(capsys, dict(src=str(src), **ARTICLE), check_mode=True, diff=True)
    assert not failed and checked["changed"]
    assert src.read_bytes() == before
    failed, done = run(capsys, dict(src=str(src), **ARTICLE), diff=True)
    assert checked["diff"] == done["diff"]
    assert checked["changes"] == done["changes"]


def test_diff_is_a_unified_diff_of_the_changed_lines(capsys, src):
    failed, result = run(capsys, dict(src=str(src), **ARTICLE), diff=True)
    prepared = result["diff"]["prepared"]
    assert prepared.startswith(f"--- before: {src}\n+++ after: {src}\n@@ ")
    minus = [x for x in prepared.splitlines() if x.startswith("-") and not x.startswith("---")]
    plus = [x for x in prepared.splitlines() if x.startswith("+") and not x.startswith("+++")]
    assert (len(minus), len(plus)) == (4, 10)


def test_dest_gets_the_result_and_src_stays(capsys, src, tmp_path):
    dest = tmp_path / "out" / "calico-dualstack.yaml"
    dest.parent.mkdir()
    before = src.read_bytes()
    failed, result = run(capsys, dict(src=str(src), dest=str(dest), **ARTICLE), diff=True)
    assert not failed and result["changed"]
    assert src.read_bytes() == before
    assert env_of(dest.read_text())["IP6"] == "autodetect"
    # A new dest is all additions in the diff.
    assert result["diff"]["prepared"].count("\n+") == len(dest.read_text().splitlines()) + 1
    failed, again = run(capsys, dict(src=str(src), dest=str(dest), **ARTICLE))
    assert not again["changed"]


def test_dest_directory_must_exist(capsys, src, tmp_path):
    failed, result = run(capsys, dict(src=str(src), dest=str(tmp_path / "nowhere" / "x.yaml")))
    assert failed
    assert "its folder %s does not exist; create the folder first" % (tmp_path / "nowhere") in result["msg"]


def test_backup_keeps_the_original(capsys, src, tmp_path):
    before = src.read_bytes()
    failed, result = run(capsys, dict(src=str(src), backup=True, **ARTICLE))
    assert not failed
    with open(result["backup_file"], "rb") as handle:
        assert handle.read() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".calico_manifest_patch.")] == []


@pytest.mark.parametrize(
    "content, args, words",
    [
        (manifest("v3.15.1"), dict(ipv4_pool_cidr="10.244.0.0/99"), ["ipv4_pool_cidr", "10.244.0.0/99"]),
        (manifest("v3.15.1"), dict(ipv6_encapsulation="vxlan"), ["v3.23", "v3.15.1"]),
        (manifest("v3.15.1"), dict(mtu="auto"), ["v3.17"]),
        (manifest("v3.15.1"), dict(ipv6_encapsulation="ipip"), ["IPIP never carries IPv6"]),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: calico-config\ndata: {}\n", dict(),
         ["no DaemonSet calico-node"]),
        ("%%% this is ::: not yaml\n\t{[\n", dict(), ["not a Kubernetes YAML manifest"]),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", dict(), ["binary"]),
        (b"kind: \xff\xfe\n", dict(), ["not UTF-8"]),
    ],
)
def test_bad_input_fails_and_leaves_the_file_byte_identical(capsys, tmp_path, content, args, words):
    path = tmp_path / "input.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    before = path.read_bytes()
    failed, result = run(capsys, dict(src=str(path), backup=True, **args))
    assert failed
    for word in words:
        assert word in result["msg"]
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.yaml"]


def test_missing_src(capsys, tmp_path):
    failed, result = run(capsys, dict(src=str(tmp_path / "absent.yaml")))
    assert failed and "does not exist" in result["msg"]


def test_operator_mode(capsys, tmp_path):
    path = tmp_path / "custom-resources.yaml"
    path.write_text(INSTALLATION)
    args = dict(src=str(path), ipv6_pool_cidr="fd00:1::/48", calico_version="3.30.7")
    failed, result = run(capsys, args)
    assert not failed and result["changed"] and result["manifest_type"] == "operator"
    assert "nodeAddressAutodetectionV6:\n      firstFound: true\n" in path.read_text()
    failed, again = run(capsys, args)
    assert not again["changed"]


@pytest.mark.parametrize("old, new, words", [
    ('  veth_mtu: "1440"\n', '  veth_mtu: "1440"\n  veth_mtu: "1440"\n', "the key veth_mtu appears 2 times"),
    ('            - name: FELIX_HEALTHENABLED\n              value: "true"\n',
     '            - {name: FELIX_HEALTHENABLED, value: "true"}\n', "is not a block mapping"),
])
def test_a_manifest_whose_meaning_an_edit_cannot_control_is_refused_and_left_alone(capsys, src, old, new, words):
    text = src.read_text()
    assert old in text
    src.write_text(text.replace(old, new, 1))
    before = src.read_bytes()
    failed, result = run(capsys, dict(src=str(src), **ARTICLE), diff=True)
    assert failed and words in result["msg"]
    assert src.read_bytes() == before
    assert sorted(p.name for p in src.parent.iterdir()) == ["calico.yaml"]
