# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Calico editor's results *mean*: every result is loaded with PyYAML and compared
with the original as loaded, changed by what was asked and by nothing else. Inputs whose
meaning a line edit cannot control (duplicate keys, flow-style env items, aliases, merge
keys, tags) must be refused instead."""

from __future__ import annotations

import copy
import json
import os
import pathlib

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.dualstack.kubernetes.plugins.module_utils import calico_manifest as cm
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils.calico_fixtures import CALICO_CONFIG, CALICO_NODE_HEADER
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

SHARED = pathlib.Path(os.environ.get("DUALSTACK_SHARED", "/work/shared")) / "manifests" / "calico"

ARTICLE = dict(mtu=1500, ipv4_encapsulation="none", ipv6_nat_outgoing=True,
               ipv6_pool_cidr="fd42:1ab:250:0:1::/80", ip6_autodetection_method="kubernetes-internal-ip")

BASE = "---\n" + CALICO_CONFIG + "---\n" + CALICO_NODE_HEADER + """\
      containers:
        - name: calico-node
          image: docker.io/calico/node:v3.26.5
          env:
            - name: DATASTORE_TYPE
              value: "kubernetes"
            - name: CALICO_IPV4POOL_IPIP
              value: "Always"
            - name: CALICO_IPV4POOL_VXLAN
              value: "Never"
            - name: FELIX_IPV6SUPPORT
              value: "false"
            - name: NODENAME
              valueFrom:
                fieldRef:
                  fieldPath: spec.nodeName
          securityContext:
            privileged: true
"""

# Each mutation: (name, old text, new text, whether the result's meaning is out of a line
# editor's control). The edits are to the text, so that the YAML is what a user could write.
MUTATIONS = {
    "duplicate veth_mtu": ('  veth_mtu: "1440"\n', '  veth_mtu: "1440"\n  veth_mtu: "9000"\n', True),
    "duplicate env value": ('              value: "Always"\n', '              value: "Always"\n              value: "Never"\n', True),
    "duplicate env key": ("          env:\n", "          env: []\n          env:\n", True),
    "flow env item": ('            - name: FELIX_IPV6SUPPORT\n              value: "false"\n',
                      '            - {name: FELIX_IPV6SUPPORT, value: "false"}\n', True),
    "flow env item, no quotes": ('            - name: CALICO_IPV4POOL_VXLAN\n              value: "Never"\n',
                                 "            - {name: CALICO_IPV4POOL_VXLAN, value: Never}\n", True),
    "anchored value with alias": ('              value: "Always"\n            - name: CALICO_IPV4POOL_VXLAN\n'
                                  '              value: "Never"\n',
                                  '              value: &mode "Always"\n            - name: CALICO_IPV4POOL_VXLAN\n'
                                  '              value: *mode\n', True),
    "aliased mtu": ('  typha_service_name: "none"\n  # MTU of pod interfaces.\n  veth_mtu: "1440"\n',
                    '  typha_service_name: &m "1440"\n  veth_mtu: *m\n', True),
    "merge key": ("          securityContext:\n", "          <<: {securityContext: {}}\n          securityContext:\n", True),
    "tagged value": ('              value: "false"\n', '              value: !!str "false"\n', True),
    "duplicate json key": ('              "type": "calico-ipam"\n',
                           '              "type": "calico-ipam",\n              "assign_ipv6": "false",\n'
                           '              "assign_ipv6": "false"\n', True),
    # Harmless variations the editor must handle, not refuse.
    "single quotes": ('              value: "kubernetes"\n', "              value: 'kubernetes'\n", False),
    "comment between items": ("            - name: NODENAME\n", "            # the node's name\n            - name: NODENAME\n", False),
    "plain scalars": ('              value: "Never"\n', "              value: Never\n", False),
    "anchor without alias": ('  typha_service_name: "none"\n', '  typha_service_name: &t "none"\n', False),
    "env item already there": ('            - name: FELIX_IPV6SUPPORT\n',
                               '            - name: IP6\n              value: "none"\n            - name: FELIX_IPV6SUPPORT\n',
                               False),
    "duplicate env entry by name": ('            - name: FELIX_IPV6SUPPORT\n',
                                    '            - name: FELIX_IPV6SUPPORT\n              value: "false"\n'
                                    '            - name: FELIX_IPV6SUPPORT\n', False),
}

REFUSAL_WORDS = ("appears", "flow", "not a block mapping", "aliases", "tag", "twice")


def containers(docs):
    for doc in docs:
        if doc and doc.get("kind") == "DaemonSet":
            return doc["spec"]["template"]["spec"]["containers"]
    raise AssertionError("no DaemonSet")


def calico_node(docs):
    return [c for c in containers(docs) if c.get("name") == "calico-node"][0]


def config_map(docs):
    return [d for d in docs if d and d.get("kind") == "ConfigMap" and d["metadata"]["name"] == "calico-config"][0]


def expected_env(before_env, desired):
    """The env list as asked: every entry of a desired name carries the desired value."""
    out = []
    for entry in before_env:
        if entry.get("name") in desired:
            out.append({"name": entry["name"], "value": desired[entry["name"]]})
        else:
            out.append(entry)
    present = {entry.get("name") for entry in before_env}
    for name, value in desired.items():
        if name not in present and not (name == "CALICO_IPV6POOL_VXLAN" and value == "Never"):
            out.append({"name": name, "value": value})
    return out


def desired_env(options):
    patcher = cm._Patcher(cm._Stream(""), cm.validate_options(options))
    return patcher._desired_env()


def as_multiset(entries):
    return sorted(json.dumps(entry, sort_keys=True) for entry in entries)


def check_meaning(before_text, after_text, options):
    """The independent check: PyYAML's reading of the result is the original's, changed
    exactly as asked. Env order is compared as Kubernetes does (by name, the last entry of
    a name wins), plus the count of entries per name."""
    before = [d for d in yaml.safe_load_all(before_text) if d]
    after = [d for d in yaml.safe_load_all(after_text) if d]
    assert len(before) == len(after)
    want = copy.deepcopy(before)
    desired = desired_env(options)
    node_before, node_after, node_want = calico_node(before), calico_node(after), calico_node(want)
    env_want = expected_env(node_before["env"], desired)
    assert as_multiset(node_after["env"]) == as_multiset(env_want)
    by_name = {e["name"]: e for e in node_after["env"]}
    for name, value in desired.items():
        if name in by_name:
            assert by_name[name] == {"name": name, "value": value}
    node_want["env"] = node_after["env"]
    cfg_before, cfg_after, cfg_want = config_map(before), config_map(after), config_map(want)
    if options.get("mtu") is not None:
        assert cfg_after["data"]["veth_mtu"] == ("0" if options["mtu"] == "auto" else str(options["mtu"]))
        cfg_want["data"]["veth_mtu"] = cfg_after["data"]["veth_mtu"]
    cni_before = json.loads(cfg_before["data"]["cni_network_config"].replace("__CNI_MTU__", "0"))
    cni_after = json.loads(cfg_after["data"]["cni_network_config"].replace("__CNI_MTU__", "0"))
    for plugin in cni_before["plugins"]:
        if plugin.get("type") == "calico":
            plugin["ipam"].update(assign_ipv4="true", assign_ipv6="true")
    assert cni_after == cni_before
    cfg_want["data"]["cni_network_config"] = cfg_after["data"]["cni_network_config"]
    assert after == want, "nothing but the asked settings changed"


def patch_or_refusal(text, options):
    try:
        return cm.patch_manifest(text, cm.validate_options(options)), None
    except DualstackError as exc:
        return None, str(exc)


def test_the_base_manifest_is_patched_to_what_was_asked():
    result, refusal = patch_or_refusal(BASE, ARTICLE)
    assert refusal is None
    check_meaning(BASE, result.text, ARTICLE)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_hazard_is_refused_and_each_variation_handled(name):
    old, new, hazardous = MUTATIONS[name]
    assert old in BASE
    text = BASE.replace(old, new, 1)
    yaml.safe_load_all(text)  # the input itself is YAML PyYAML reads
    result, refusal = patch_or_refusal(text, ARTICLE)
    if hazardous:
        assert refusal is not None, "%s: the editor must refuse, it returned a result" % name
        assert any(word in refusal for word in REFUSAL_WORDS), refusal
        assert "line" in refusal or "cni_network_config" in refusal, refusal
    else:
        assert refusal is None, refusal
        check_meaning(text, result.text, ARTICLE)


OPTION_CHOICES = st.fixed_dictionaries({}, optional={
    "mtu": st.sampled_from([1500, 1440, "auto", 9000]),
    "ipv4_encapsulation": st.sampled_from(cm.ENCAPSULATIONS_IPV4),
    "ipv4_nat_outgoing": st.booleans(),
    "ipv6_nat_outgoing": st.booleans(),
    "ipv4_pool_cidr": st.sampled_from(["10.244.0.0/16", "192.168.0.0/16"]),
    "ipv6_pool_cidr": st.sampled_from(["fd42:1ab:250:0:1::/80", "2001:db8:42::/56"]),
    "ipv4_block_size": st.integers(min_value=20, max_value=32),
    "ipv6_block_size": st.integers(min_value=116, max_value=128),
    "ip_autodetection_method": st.sampled_from(["first-found", "interface=eth0", "can-reach=8.8.8.8"]),
    "ip6_autodetection_method": st.sampled_from(["first-found", "kubernetes-internal-ip", "interface=eth.*"]),
})


@settings(derandomize=True, max_examples=120, deadline=None)
@given(mutations=st.lists(st.sampled_from(sorted(MUTATIONS)), max_size=3, unique=True), options=OPTION_CHOICES)
def test_every_mutation_is_refused_or_patched_to_what_was_asked(mutations, options):
    """For every input: a refusal naming the rule (and a hazard was there), or a result whose
    loaded meaning is the original's changed as asked; never another exception."""
    text = BASE
    for name in mutations:
        old, new, _hazard = MUTATIONS[name]
        if old in text:
            text = text.replace(old, new, 1)
    result, refusal = patch_or_refusal(text, options)
    hazards = [name for name in mutations if MUTATIONS[name][2]]
    if refusal is not None:
        assert hazards, "refused an input without a hazard: %s" % refusal
        assert any(word in refusal for word in REFUSAL_WORDS), refusal
        return
    check_meaning(text, result.text, options)
    again, refusal = patch_or_refusal(result.text, options)
    assert refusal is None and again.text == result.text, "a second run changes nothing"


@pytest.mark.parametrize("name", ["calico-v3.15.1.yaml", "calico-v3.26.5.yaml", "calico-v3.28.5.yaml",
                                  "calico-v3.29.7.yaml", "calico-v3.30.7.yaml"])
def test_real_calico_manifests_mean_what_was_asked(name):
    path = SHARED / name
    if not path.is_file():
        pytest.skip("%s is not here (the shared Calico manifests are read from $DUALSTACK_SHARED)" % path)
    text = path.read_text(encoding="utf-8")
    options = dict(ARTICLE)
    result, refusal = patch_or_refusal(text, options)
    assert refusal is None, refusal
    check_meaning(text, result.text, options)
