# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The manifest scanner and patcher on small manifests written for these tests: every
layout the scanner must cope with, every refusal, and the byte-exactness of the edit."""

from __future__ import annotations

import re

import difflib
import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.dualstack.kubernetes.plugins.module_utils import calico_manifest as cm
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils.calico_fixtures import CALICO_CONFIG, CALICO_NODE_HEADER
from ansible_collections.dualstack.kubernetes.plugins.module_utils.calico_manifest import (
    DualstackError,
    patch_manifest,
    validate_options,
)

CONFIG = CALICO_CONFIG

DAEMONSET = CALICO_NODE_HEADER + """\
      initContainers:
        - name: install-cni
          image: docker.io/calico/cni:{version}
          env:
            - name: FELIX_IPV6SUPPORT
              value: "false"
      containers:
        - name: calico-node
          image: docker.io/calico/node:{version}
          env:
            - name: IP
              value: "autodetect"
            # Tunnel mode of the IPv4 pool.
            - name: CALICO_IPV4POOL_IPIP
              value: "Always"
            - name: CALICO_IPV4POOL_VXLAN
              value: "Never"
{v6vxlan}            - name: FELIX_IPV6SUPPORT
              value: "false"
            - name: FELIX_HEALTHENABLED
              value: "true"
          securityContext:
            privileged: true
"""

V6VXLAN = """\
            - name: CALICO_IPV6POOL_VXLAN
              value: "Never"
"""


def manifest(version: str = "v3.30.7", order: str = "config-first") -> str:
    ds = DAEMONSET.format(version=version, v6vxlan=V6VXLAN if version >= "v3.23" else "")
    other = "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: calico-node\n"
    if order == "config-first":
        return "---\n" + CONFIG + other + "---\n" + ds
    return "---\n" + ds + other + "---\n" + CONFIG


def opts(**kwargs) -> cm.PatchOptions:
    return validate_options(kwargs)


def env_of(text: str) -> dict[str, str]:
    for doc in yaml.safe_load_all(text):
        if doc and doc["kind"] == "DaemonSet":
            container = doc["spec"]["template"]["spec"]["containers"][0]
            return {e["name"]: e.get("value") for e in container["env"]}
    raise AssertionError("no DaemonSet")


def ipam_of(text: str) -> dict:
    for doc in yaml.safe_load_all(text):
        if doc and doc["kind"] == "ConfigMap":
            cni = doc["data"]["cni_network_config"].replace("__CNI_MTU__", "0")
            return json.loads(cni)["plugins"][0]["ipam"]
    raise AssertionError("no ConfigMap")


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """The removed and the added lines, as a line diff of the two texts shows them."""
    removed, added = [], []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0, lineterm=""):
        if line.startswith(("---", "+++", "@@")):
            continue
        (removed if line[0] == "-" else added).append(line[1:])
    return removed, added


# ----------------------------------------------------------------- manifest mode


def test_dual_stack_edit_changes_only_the_lines_that_must_change():
    before = manifest()
    result = patch_manifest(before, opts(ipv4_encapsulation="none", ipv6_nat_outgoing=True, mtu=1500))
    removed, added = changed_lines(before, result.text)
    assert removed == [
        '  veth_mtu: "1440"',
        '              "type": "calico-ipam"',
        '              value: "Always"',
        '              value: "false"',
    ]
    assert added == [
        '  veth_mtu: "1500"',
        '              "type": "calico-ipam",',
        '              "assign_ipv4": "true",',
        '              "assign_ipv6": "true"',
        '              value: "Never"',
        '              value: "true"',
        "            - name: IP6",
        '              value: "autodetect"',
        "            - name: CALICO_IPV6POOL_NAT_OUTGOING",
        '              value: "true"',
    ]
    assert (result.lines_removed, result.lines_added) == (4, 10)
    assert result.calico_version == "v3.30.7"
    assert result.mode == "manifest"


def test_init_container_env_is_left_alone():
    result = patch_manifest(manifest(), opts())
    doc = [d for d in yaml.safe_load_all(result.text) if d and d["kind"] == "DaemonSet"][0]
    init_env = doc["spec"]["template"]["spec"]["initContainers"][0]["env"]
    assert init_env == [{"name": "FELIX_IPV6SUPPORT", "value": "false"}]
    assert env_of(result.text)["FELIX_IPV6SUPPORT"] == "true"


def test_second_run_reports_no_change():
    options = opts(
        ipv4_pool_cidr="10.42.0.0/16",
        ipv6_pool_cidr="fd45:a71:55a6:1:2:2::/96",
        ipv4_encapsulation="vxlan-crosssubnet",
        ipv6_encapsulation="vxlan",
        ipv4_nat_outgoing=True,
        ipv6_nat_outgoing=True,
        mtu="auto",
        ip_autodetection_method="cidr=10.250.0.0/24",
        ip6_autodetection_method="kubernetes-internal-ip",
        ipv4_block_size=26,
        ipv6_block_size=122,
        ipam_ipv4_pools=["10.42.0.0/16"],
        ipam_ipv6_pools=["fd45:a71:55a6:1:2:2::/96"],
    )
    first = patch_manifest(manifest(), options)
    second = patch_manifest(first.text, options)
    assert first.changed
    assert not second.changed
    assert second.changes == []
    assert second.text == first.text
    assert second.diff() == ""


def test_every_setting_lands_where_calico_reads_it():
    result = patch_manifest(
        manifest(),
        opts(
            ipv4_pool_cidr="10.42.0.0/16",
            ipv6_pool_cidr="fd45:a71:55a6:1:2:2::/96",
            ipv4_encapsulation="vxlan-crosssubnet",
            ipv6_encapsulation="vxlan-crosssubnet",
            ipv4_nat_outgoing=False,
            ipv6_nat_outgoing=False,
            mtu="auto",
            ip_autodetection_method="can-reach=192.0.2.1",
            ip6_autodetection_method="interface=eth.*",
            ipv4_block_size=24,
            ipv6_block_size=120,
            ipam_ipv4_pools=["10.42.0.0/16"],
            ipam_ipv6_pools=["default-ipv6-ippool"],
        ),
    )
    env = env_of(result.text)
    assert env["CALICO_IPV4POOL_CIDR"] == "10.42.0.0/16"
    assert env["CALICO_IPV6POOL_CIDR"] == "fd45:a71:55a6:1:2:2::/96"
    assert (env["CALICO_IPV4POOL_IPIP"], env["CALICO_IPV4POOL_VXLAN"]) == ("Never", "CrossSubnet")
    assert env["CALICO_IPV6POOL_VXLAN"] == "CrossSubnet"
    assert env["CALICO_IPV4POOL_NAT_OUTGOING"] == "false"
    assert env["CALICO_IPV6POOL_NAT_OUTGOING"] == "false"
    assert env["IP_AUTODETECTION_METHOD"] == "can-reach=192.0.2.1"
    assert env["IP6_AUTODETECTION_METHOD"] == "interface=eth.*"
    assert env["CALICO_IPV4POOL_BLOCK_SIZE"] == "24"
    assert env["CALICO_IPV6POOL_BLOCK_SIZE"] == "120"
    assert env["IP6"] == "autodetect"
    assert ipam_of(result.text) == {
        "type": "calico-ipam",
        "assign_ipv4": "true",
        "assign_ipv6": "true",
        "ipv4_pools": ["10.42.0.0/16"],
        "ipv6_pools": ["default-ipv6-ippool"],
    }
    config = [d for d in yaml.safe_load_all(result.text) if d and d["kind"] == "ConfigMap"][0]
    assert config["data"]["veth_mtu"] == "0"


def test_document_order_does_not_matter():
    options = opts(ipv4_encapsulation="none", ipv6_nat_outgoing=True)
    a = patch_manifest(manifest(order="config-first"), options)
    b = patch_manifest(manifest(order="daemonset-first"), options)
    assert env_of(a.text) == env_of(b.text)
    assert ipam_of(a.text) == ipam_of(b.text)


def test_new_env_entries_follow_felix_ipv6support_in_a_fixed_order():
    result = patch_manifest(manifest(), opts(ipv6_pool_cidr="fd00:1::/48", ipv6_nat_outgoing=True,
                                             ip6_autodetection_method="first-found"))
    names = list(env_of(result.text))
    at = names.index("FELIX_IPV6SUPPORT")
    assert names[at:at + 5] == [
        "FELIX_IPV6SUPPORT",
        "IP6",
        "IP6_AUTODETECTION_METHOD",
        "CALICO_IPV6POOL_CIDR",
        "CALICO_IPV6POOL_NAT_OUTGOING",
    ]
    assert names[-1] == "FELIX_HEALTHENABLED"


LAYOUT = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
    namespace: kube-system
    name: 'calico-node'
spec:
    template:
        spec:
            containers:
            -   image: "quay.io/calico/node:v3.26.1"
                name: calico-node
                env:
                -   name: FELIX_IPV6SUPPORT   # turned on below
                    value: 'false'
                -   name: CALICO_IPV4POOL_IPIP
                    value: Always
                -   name: CALICO_IPV6POOL_NAT_OUTGOING
                    valueFrom:
                        configMapKeyRef:
                            name: calico-config
                            key: v6_nat
---
apiVersion: v1
data:
    cni_network_config: |
        {"plugins": [{"type": "calico", "ipam": {"type": "calico-ipam"}}]}
    veth_mtu: '1440'
kind: ConfigMap
metadata: {name: calico-config, namespace: kube-system}
"""


def test_other_indentation_quoting_and_key_order():
    result = patch_manifest(LAYOUT, opts(ipv4_encapsulation="none", ipv6_nat_outgoing=True, mtu=1480))
    removed, added = changed_lines(LAYOUT, result.text)
    assert "                    value: 'true'" in added  # the single quotes of the entry kept
    assert "                    value: Never" in added  # a plain scalar stays plain
    assert "    veth_mtu: '1480'" in added
    # valueFrom gives way to the literal value.
    assert "                            key: v6_nat" in removed
    assert '                    value: "true"' in added
    # The one-line JSON object grows on its line.
    assert (
        '        {"plugins": [{"type": "calico", "ipam": {"type": "calico-ipam", '
        '"assign_ipv4": "true", "assign_ipv6": "true"}}]}'
    ) in added
    env = env_of(result.text)
    assert env["FELIX_IPV6SUPPORT"] == "true"
    assert env["CALICO_IPV6POOL_NAT_OUTGOING"] == "true"
    assert env["IP6"] == "autodetect"
    assert "FELIX_IPV6SUPPORT   # turned on below" in result.text
    # New entries copy the list's own layout.
    assert "                -   name: IP6\n                    value: 'autodetect'\n" in result.text
    assert not patch_manifest(result.text, opts(ipv4_encapsulation="none", ipv6_nat_outgoing=True, mtu=1480)).changed


def test_crlf_bom_and_missing_final_newline_survive():
    text = "\ufeff" + manifest().replace("\n", "\r\n").rstrip("\r\n")
    result = patch_manifest(text, opts(ipv6_nat_outgoing=True))
    assert result.text.startswith("\ufeff")
    assert "\n" not in result.text.replace("\r\n", "")
    assert not result.text.endswith("\n")
    assert "- name: IP6\r\n" in result.text
    assert env_of(result.text.lstrip("\ufeff"))["IP6"] == "autodetect"


def test_version_comes_from_the_image_or_from_calico_version():
    mirrored = manifest().replace("docker.io/calico/node:v3.30.7", "registry.example/mirror/calico-node:stable")
    with pytest.raises(DualstackError, match="give calico_version"):
        patch_manifest(mirrored, opts())
    assert patch_manifest(mirrored, opts(calico_version="3.30.7")).calico_version == "v3.30.7"
    with pytest.raises(DualstackError, match="does not match"):
        patch_manifest(manifest(), opts(calico_version="3.15.1"))


@pytest.mark.parametrize(
    "version, options, rule",
    [
        ("v3.15.1", dict(ipv6_encapsulation="vxlan"), "needs Calico v3.23"),
        ("v3.22.5", dict(ipv6_encapsulation="vxlan-crosssubnet"), "needs Calico v3.23"),
        ("v3.16.9", dict(mtu="auto"), "needs Calico v3.17"),
    ],
)
def test_version_rules(version, options, rule):
    text = manifest(version)
    with pytest.raises(DualstackError, match=rule) as error:
        patch_manifest(text, opts(**options))
    assert version in str(error.value)


def test_what_the_version_allows_passes():
    assert patch_manifest(manifest("v3.23.0"), opts(ipv6_encapsulation="vxlan")).changed
    assert patch_manifest(manifest("v3.17.0"), opts(mtu="auto")).changed


def test_no_ipv6_vxlan_line_is_added_where_the_version_has_none():
    result = patch_manifest(manifest("v3.15.1"), opts(ipv6_encapsulation="none"))
    assert "CALICO_IPV6POOL_VXLAN" not in result.text


# ----------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "options, words",
    [
        (dict(ipv4_pool_cidr="10.244.0.0/33"), ["ipv4_pool_cidr", "10.244.0.0/33"]),
        (dict(ipv4_pool_cidr="10.244.0.1/16"), ["host bits", "10.244.0.0/16"]),
        (dict(ipv4_pool_cidr="fd00::/48"), ["ipv4_pool_cidr", "IPv6 network"]),
        (dict(ipv6_pool_cidr="fd00::"), ["ipv6_pool_cidr", "not a CIDR"]),
        (dict(ipv6_encapsulation="ipip"), ["IPIP never carries IPv6"]),
        (dict(ipv4_encapsulation="gre"), ["ipv4_encapsulation", "gre"]),
        (dict(mtu=9999999), ["mtu", "1280..65535"]),
        (dict(mtu="big"), ["mtu=big", "neither an integer"]),
        (dict(ipv6_block_size=64), ["ipv6_block_size=64", "116 to 128"]),
        (dict(ipv4_block_size="x"), ["ipv4_block_size", "not an integer"]),
        (dict(ipv6_pool_cidr="fd00::/120", ipv6_block_size=118), ["larger than the pool"]),
        (dict(ip_autodetection_method="somehow"), ["ip_autodetection_method", "first-found"]),
        (dict(ip6_autodetection_method="can-reach=8.8.8.8"), ["IPv6 address"]),
        (dict(ip6_autodetection_method="cidr=10.0.0.0/8"), ["IPv6"]),
        (dict(ip_autodetection_method="interface=eth(["), ["regular expression"]),
        (dict(ipam_ipv4_pools="10.0.0.0/8"), ["ipam_ipv4_pools", "list"]),
        (dict(ipam_ipv6_pools=["Not A Name"]), ["ipam_ipv6_pools", "Not A Name"]),
        (dict(ipv6_nat_outgoing="maybe"), ["ipv6_nat_outgoing", "boolean"]),
        (dict(calico_version="latest"), ["calico_version", "latest"]),
        (dict(manifest_type="helm"), ["manifest_type", "helm"]),
    ],
)
def test_bad_options_name_the_option_and_the_value(options, words):
    with pytest.raises(DualstackError) as error:
        validate_options(options)
    for word in words:
        assert word in str(error.value)


def test_a_huge_value_is_shown_cut_not_whole():
    with pytest.raises(DualstackError) as error:
        validate_options(dict(ipv4_pool_cidr="1" * 100_000))
    assert "characters left out" in str(error.value) and len(str(error.value)) < 400


@pytest.mark.parametrize(
    "text, words",
    [
        ("just: some: text: [\n", ["no document has a top-level kind"]),
        ("{\"kind\": \"ConfigMap\"}\n", ["no document has a top-level kind"]),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n", ["not a Calico manifest"]),
        (CONFIG, ["no DaemonSet calico-node"]),
        (manifest().replace("name: calico-node\n          image", "name: other\n          image"),
         ["no container named calico-node"]),
        (manifest().replace('"type": "calico-ipam"', '"type": "host-local"'), ["host-local", "Calico IPAM"]),
        (manifest().replace("  cni_network_config: |-\n", "  cni_network_config_x: |-\n"),
         ["no data.cni_network_config"]),
        (manifest() + "---\n" + DAEMONSET.format(version="v3.30.7", v6vxlan=""), ["appears 2 times"]),
    ],
)
def test_manifests_it_cannot_patch_are_refused(text, words):
    with pytest.raises(DualstackError) as error:
        patch_manifest(text, opts())
    for word in words:
        assert word in str(error.value)


def test_missing_env_list_is_refused():
    text = manifest()
    start = text.index("          env:\n            - name: IP\n")
    end = text.index("          securityContext:")
    with pytest.raises(DualstackError, match="no env list"):
        patch_manifest(text[:start] + text[end:], opts())


def test_flow_style_cni_config_is_refused():
    text = manifest().replace('  cni_network_config: |-\n', '  cni_network_config: "{}"\n  unused: |-\n')
    with pytest.raises(DualstackError, match="not a block scalar"):
        patch_manifest(text, opts())


def test_veth_mtu_missing_only_matters_when_mtu_is_asked():
    text = manifest().replace('  veth_mtu: "1440"\n', "")
    assert patch_manifest(text, opts()).changed
    with pytest.raises(DualstackError, match="veth_mtu"):
        patch_manifest(text, opts(mtu=1500))


# ----------------------------------------------------------------- operator mode

INSTALLATION = """\
# Base installation.
apiVersion: operator.tigera.io/v1
kind: Installation
metadata:
  name: default
spec:
  # Pod networking.
  calicoNetwork:
    ipPools:
    - name: default-ipv4-ippool
      blockSize: 26
      cidr: 192.168.0.0/16
      encapsulation: VXLANCrossSubnet
      natOutgoing: Enabled
      nodeSelector: all()

---
apiVersion: operator.tigera.io/v1
kind: APIServer
metadata:
  name: default
spec: {}
"""


def installation_of(text: str) -> dict:
    return [d for d in yaml.safe_load_all(text) if d and d["kind"] == "Installation"][0]


def test_operator_mode_adds_the_ipv6_pool_and_v6_autodetection():
    options = opts(ipv4_pool_cidr="10.244.0.0/16", ipv6_pool_cidr="fd00:1::/48", ipv6_encapsulation="none",
                   calico_version="3.28.5")
    result = patch_manifest(INSTALLATION, options)
    assert result.mode == "operator"
    network = installation_of(result.text)["spec"]["calicoNetwork"]
    assert network["ipPools"] == [
        {"name": "default-ipv4-ippool", "blockSize": 26, "cidr": "10.244.0.0/16",
         "encapsulation": "VXLANCrossSubnet", "natOutgoing": "Enabled", "nodeSelector": "all()"},
        {"name": "default-ipv6-ippool", "blockSize": 122, "cidr": "fd00:1::/48",
         "encapsulation": "None", "natOutgoing": "Enabled", "nodeSelector": "all()"},
    ]
    assert network["nodeAddressAutodetectionV6"] == {"firstFound": True}
    removed, added = changed_lines(INSTALLATION, result.text)
    assert removed == ["      cidr: 192.168.0.0/16"]
    assert len(added) == 1 + 6 + 2
    assert not patch_manifest(result.text, options).changed


@pytest.mark.parametrize(
    "method, expected",
    [
        ("kubernetes-internal-ip", {"kubernetes": "NodeInternalIP"}),
        ("cidr=fd42::/64,fd43::/64", {"cidrs": ["fd42::/64", "fd43::/64"]}),
        ("can-reach=2001:db8::1", {"canReach": "2001:db8::1"}),
        ("interface=eth0", {"interface": "eth0"}),
        ("skip-interface=docker.*", {"skipInterface": "docker.*"}),
    ],
)
def test_operator_autodetection_methods(method, expected):
    options = opts(ipv6_pool_cidr="fd00:1::/48", ip6_autodetection_method=method)
    first = patch_manifest(INSTALLATION, options)
    assert installation_of(first.text)["spec"]["calicoNetwork"]["nodeAddressAutodetectionV6"] == expected
    # Changing the method rewrites the block in place, and then stands.
    other = opts(ipv6_pool_cidr="fd00:1::/48", ip6_autodetection_method="first-found")
    second = patch_manifest(first.text, other)
    assert installation_of(second.text)["spec"]["calicoNetwork"]["nodeAddressAutodetectionV6"] == {"firstFound": True}
    assert not patch_manifest(second.text, other).changed


def test_operator_mode_updates_an_existing_ipv6_pool():
    options = opts(ipv6_pool_cidr="fd00:1::/48")
    first = patch_manifest(INSTALLATION, options).text
    result = patch_manifest(first, opts(ipv6_pool_cidr="fd00:2::/48", ipv6_encapsulation="vxlan",
                                        ipv6_nat_outgoing=False, ipv6_block_size=120, mtu=1450,
                                        calico_version="v3.30.7"))
    pools = installation_of(result.text)["spec"]["calicoNetwork"]["ipPools"]
    assert pools[1] == {"name": "default-ipv6-ippool", "blockSize": 120, "cidr": "fd00:2::/48",
                        "encapsulation": "VXLAN", "natOutgoing": "Disabled", "nodeSelector": "all()"}
    assert installation_of(result.text)["spec"]["calicoNetwork"]["mtu"] == 1450


@pytest.mark.parametrize(
    "text, options, words",
    [
        (INSTALLATION, dict(), ["give ipv6_pool_cidr"]),
        (INSTALLATION, dict(ipv6_pool_cidr="fd00::/48", ipam_ipv6_pools=["fd00::/48"]), ["operator mode"]),
        (INSTALLATION, dict(ipv6_pool_cidr="fd00::/48", ipv6_encapsulation="vxlan", calico_version="3.22.0"),
         ["v3.23"]),
        (INSTALLATION.replace("    - name: default-ipv4-ippool", "    - name: a\n      cidr: 10.1.0.0/16\n"
                              "    - name: default-ipv4-ippool"), dict(ipv6_pool_cidr="fd00::/48"),
         ["2 IPv4 pools"]),
        (INSTALLATION.replace("  calicoNetwork:", "  otherNetwork:"), dict(ipv6_pool_cidr="fd00::/48"),
         ["no spec.calicoNetwork"]),
    ],
)
def test_operator_mode_refusals(text, options, words):
    with pytest.raises(DualstackError) as error:
        patch_manifest(text, opts(**options))
    for word in words:
        assert word in str(error.value)


def test_manifest_type_forces_the_mode():
    with pytest.raises(DualstackError, match="no ConfigMap calico-config and DaemonSet calico-node"):
        patch_manifest(INSTALLATION, opts(manifest_type="manifest"))
    with pytest.raises(DualstackError, match="exactly one"):
        patch_manifest(manifest(), opts(manifest_type="operator"))


# ----------------------------------------------------------------- scanner and diff


@settings(max_examples=60, deadline=None)
@given(
    order=st.permutations(["IP", "CALICO_IPV4POOL_IPIP", "FELIX_IPV6SUPPORT", "FELIX_HEALTHENABLED"]),
    quote=st.sampled_from(['"{}"', "'{}'", "{}"]),
    dash_indent=st.integers(min_value=0, max_value=4),
    gap=st.integers(min_value=1, max_value=3),
    comments=st.booleans(),
)
def test_env_found_whatever_the_order_quoting_and_indentation(order, quote, dash_indent, gap, comments):
    values = {"IP": "autodetect", "CALICO_IPV4POOL_IPIP": "Always", "FELIX_IPV6SUPPORT": "false",
              "FELIX_HEALTHENABLED": "true"}
    base = 8 + dash_indent
    key_col = base + 1 + gap
    entries = []
    for name in order:
        if comments:
            entries.append(" " * base + f"# about {name}\n")
        entries.append(" " * base + "-" + " " * gap + f"name: {name}\n")
        entries.append(" " * key_col + "value: " + quote.format(values[name]) + "\n")
    ds = (
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: calico-node\nspec:\n  template:\n"
        "    spec:\n      containers:\n      - name: calico-node\n        image: calico/node:v3.30.7\n"
        "        env:\n" + "".join(entries) + "        securityContext:\n          privileged: true\n"
    )
    text = "---\n" + CONFIG + "---\n" + ds
    result = patch_manifest(text, opts(ipv4_encapsulation="none"))
    env = env_of(result.text)
    assert env["FELIX_IPV6SUPPORT"] == "true"
    assert env["CALICO_IPV4POOL_IPIP"] == "Never"
    assert env["IP6"] == "autodetect"
    # Untouched entries read back as written (a plain true is YAML's boolean).
    assert env["IP"] == "autodetect" and str(env["FELIX_HEALTHENABLED"]).lower() == "true"
    removed, added = changed_lines(text, result.text)
    assert env["CALICO_IPV4POOL_VXLAN"] == "Never"
    # Two values changed, one ipam line grew into three, and IP6 and CALICO_IPV4POOL_VXLAN
    # (absent from this list) were added with two lines each.
    assert len(removed) == 3
    assert len(added) == 2 + 3 + 2 + 2
    assert not patch_manifest(result.text, opts(ipv4_encapsulation="none")).changed


def test_unified_diff_matches_difflib():
    before = manifest()
    result = patch_manifest(before, opts(ipv4_encapsulation="none", ipv6_nat_outgoing=True, mtu=1500))
    ours = result.diff("a", "b")
    theirs = "".join(difflib.unified_diff(before.splitlines(True), result.text.splitlines(True), "a", "b"))
    assert ours == theirs


def test_unified_diff_marks_a_missing_final_newline():
    before = manifest().rstrip("\n")
    result = patch_manifest(before, opts(ipv4_encapsulation="none"))
    theirs = "".join(difflib.unified_diff(before.splitlines(True), result.text.splitlines(True), "a", "b"))
    # difflib leaves the marker out; the edit never touches the last line here, so the texts agree.
    assert result.diff("a", "b") == theirs


@pytest.mark.parametrize(
    "value, style, rendered",
    [
        ("true", "plain", '"true"'),
        ("1500", "plain", '"1500"'),
        ("Never", "plain", "Never"),
        ("fd00:1::/48", "plain", "fd00:1::/48"),
        ("it's", "'", "'it''s'"),
        ("a: b", "plain", '"a: b"'),
        ("autodetect", '"', '"autodetect"'),
    ],
)
def test_rendered_scalars_read_back_as_the_same_string(value, style, rendered):
    assert cm.render_string(value, style) == rendered
    assert yaml.safe_load("k: " + rendered) == {"k": value}


def test_calico_versions_are_read_by_the_rule_book():
    assert cm.validate_options({"calico_version": "v3.30.7"}).calico_version.key == (3, 30, 7)
    assert cm.format_version(cm.validate_options({"calico_version": "3.28.5"}).calico_version) == "v3.28.5"


@pytest.mark.parametrize("text, words", [
    ("3.28", "names a release line"),
    # A development build is not read as its release.
    ("3.30.0-0.dev", "is a pre-release"),
    ("3.14.2", "is outside the Calico releases this collection supports, 3.15.0 to 3.30.x"),
])
def test_versions_the_rule_book_refuses_are_refused(text, words):
    with pytest.raises(DualstackError, match=f"^calico_version: {re.escape(text)} {words}"):
        cm.validate_options({"calico_version": text})
