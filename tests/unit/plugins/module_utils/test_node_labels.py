# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node labels and taints: random keys, values and taints against the Kubernetes syntax, and
the plan that carries them (the variable, the host and the value named in every refusal)."""

from __future__ import annotations

import re
import string
import typing as t

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import address_plan as ap
from ansible_collections.dualstack.kubernetes.plugins.module_utils import node_labels as nl
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils import article_plans

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")
given, settings = hypothesis.given, hypothesis.settings

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None, derandomize=True)

ALNUM = string.ascii_letters + string.digits
INNER = ALNUM + "-_."
DNS_ALNUM = string.ascii_lowercase + string.digits


@st.composite
def names(draw: t.Callable[..., t.Any], max_size: int = 63) -> str:
    """A qualified name part: alphanumeric ends, letters, digits, '-', '_', '.' between."""
    if max_size == 1 or draw(st.booleans()):
        return draw(st.sampled_from(ALNUM))
    middle = draw(st.text(INNER, max_size=max_size - 2))
    return draw(st.sampled_from(ALNUM)) + middle + draw(st.sampled_from(ALNUM))


@st.composite
def dns_labels(draw: t.Callable[..., t.Any]) -> str:
    middle = draw(st.text(DNS_ALNUM + "-", max_size=10))
    return draw(st.sampled_from(DNS_ALNUM)) + (middle + draw(st.sampled_from(DNS_ALNUM)) if middle else "")


@st.composite
def own_prefixes(draw: t.Callable[..., t.Any]) -> str:
    """A DNS subdomain outside the kubernetes.io and k8s.io namespaces."""
    labels = draw(st.lists(dns_labels(), min_size=1, max_size=4))
    prefix = ".".join(labels + ["example"])
    hypothesis.assume(not re.search(r"(^|\.)(kubernetes\.io|k8s\.io)$", prefix))
    return prefix


@st.composite
def own_keys(draw: t.Callable[..., t.Any]) -> str:
    name = draw(names())
    return draw(own_prefixes()) + "/" + name if draw(st.booleans()) else name


values = st.one_of(st.just(""), names())
effects = st.sampled_from(nl.TAINT_EFFECTS)


def labels_option(host: str) -> str:
    return f"nodes[0].labels ({host})"


@PROPERTY_SETTINGS
@given(st.dictionaries(own_keys(), values, max_size=6))
def test_valid_labels_are_kept_sorted(labels: t.Dict[str, str]) -> None:
    checked, problems = nl.check_labels("labels", labels)
    assert problems == []
    assert checked == labels and list(checked) == sorted(labels)
    assert nl.label_arguments(checked) == [f"{key}={value}" for key, value in sorted(labels.items())]


@PROPERTY_SETTINGS
@given(own_keys(), st.sampled_from("/:=,@ !*+~\u00e9"), st.integers(0, 70))
def test_a_key_with_a_foreign_character_is_refused(key: str, bad: str, where: int) -> None:
    if bad == "/" and key.count("/") == 0 and 0 < where % (len(key) + 1) < len(key):
        # one '/' in the middle is the prefix separator; a prefix "a" with name "b" may be valid
        hypothesis.assume(False)
    position = where % (len(key) + 1)
    broken = key[:position] + bad + key[position:]
    checked, problems = nl.check_labels("labels", {broken: "v"})
    assert checked == {}
    assert len(problems) == 1 and problems[0].value == broken and problems[0].option == "labels"


@PROPERTY_SETTINGS
@given(st.integers(64, 300), own_prefixes())
def test_long_names_values_and_prefixes_are_refused(length: int, prefix: str) -> None:
    long_name = "a" * length
    assert any("more than 63" in error for error in nl.key_errors(long_name))
    assert any("more than 63" in error for error in nl.key_errors(prefix + "/" + long_name))
    assert nl.value_errors(long_name)
    assert nl.key_errors("a" * 63) == [] and nl.value_errors("a" * 63) == []
    long_prefix = ".".join(["a" * 50] * (length // 50 + 5))
    assert any("more than 253" in error for error in nl.key_errors(long_prefix + "/name"))


@PROPERTY_SETTINGS
@given(st.lists(dns_labels(), max_size=2), st.sampled_from(nl.KUBERNETES_NAMESPACES), names())
def test_kubernetes_namespaces_are_refused_but_the_kubelets_own(subdomains: t.List[str], domain: str,
                                                                name: str) -> None:
    namespace = ".".join(subdomains + [domain])
    key = f"{namespace}/{name}"
    allowed = key in nl.KUBELET_LABELS or any(
        namespace == allowed or namespace.endswith("." + allowed) for allowed in nl.KUBELET_LABEL_NAMESPACES)
    checked, problems = nl.check_labels("labels", {key: "x"})
    assert (checked == {key: "x"}) == allowed
    if not allowed:
        assert "kubelet refuses" in problems[0].rule and problems[0].value == key


@pytest.mark.parametrize("key", ["node-role.kubernetes.io/worker", "node-role.kubernetes.io/control-plane",
                                 "kubernetes.io/role", "app.kubernetes.io/name", "k8s.io/x"])
def test_the_labels_the_kubelet_refuses(key: str) -> None:
    assert nl.kubelet_refuses(key)


@pytest.mark.parametrize("key", ["node.kubernetes.io/exclude-from-external-load-balancers",
                                 "kubelet.kubernetes.io/x", "topology.kubernetes.io/zone", "kubernetes.io/arch",
                                 "example.com/kubernetes.io", "notkubernetes.io/x"])
def test_the_labels_the_kubelet_sets(key: str) -> None:
    assert not nl.kubelet_refuses(key)


@pytest.mark.parametrize("value", [True, False, 1.5, [1], {"a": 1}])
def test_values_yaml_reads_as_other_types_are_refused(value: t.Any) -> None:
    checked, problems = nl.check_labels("labels", {"example.com/a": value})
    assert checked == {} and "Quote the value" in problems[0].fix


def test_numbers_and_empty_values_are_label_values() -> None:
    assert nl.check_labels("labels", {"rack": 12, "empty": None}) == ({"empty": "", "rack": "12"}, [])


@PROPERTY_SETTINGS
@given(own_keys(), values, effects)
def test_a_taint_reads_the_same_in_both_forms(key: str, value: str, effect: str) -> None:
    text = f"{key}={value}:{effect}" if value else f"{key}:{effect}"
    from_text, problems = nl.parse_taint("taints", text)
    assert problems == []
    from_mapping, problems = nl.parse_taint("taints", {"key": key, "value": value, "effect": effect})
    assert problems == [] and from_text == from_mapping == nl.Taint(key, value, effect)
    assert str(from_text) == text
    assert nl.taint_arguments([from_text.as_dict()]) == [text]


@PROPERTY_SETTINGS
@given(own_keys(), st.text(string.ascii_letters, min_size=1, max_size=20))
def test_an_unknown_effect_is_refused(key: str, effect: str) -> None:
    hypothesis.assume(effect not in nl.TAINT_EFFECTS)
    taint, problems = nl.parse_taint("taints", f"{key}:{effect}")
    assert taint is None and "none of NoSchedule, PreferNoSchedule, NoExecute" in problems[0].rule


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(own_keys(), values, effects), min_size=1, max_size=6))
def test_each_key_and_effect_pair_once(items: t.List[t.Tuple[str, str, str]]) -> None:
    taints = [{"key": key, "value": value, "effect": effect} for key, value, effect in items]
    checked, problems = nl.check_taints("taints", taints)
    pairs = [(key, effect) for key, _value, effect in items]
    assert len(problems) == len(pairs) - len(set(pairs))
    assert [(taint.key, taint.effect) for taint in checked] == list(dict.fromkeys(pairs))


@pytest.mark.parametrize("taint", ["example.com/gpu", "a=b=c:NoSchedule", "a:b:NoSchedule", "=v:NoSchedule",
                                   "a=-v-:NoExecute", {"key": "a"}, {"key": "a", "effect": "NoSchedule", "x": 1}, 5])
def test_malformed_taints_are_refused(taint: t.Any) -> None:
    checked, problems = nl.check_taints("taints", [taint])
    assert checked == [] and problems


@pytest.mark.parametrize("given_value", ["a:NoSchedule", {"a": "NoSchedule"}, 3])
def test_taints_must_be_a_list(given_value: t.Any) -> None:
    assert nl.check_taints("taints", given_value)[1][0].rule == "is not a list of taints"


def test_the_plan_carries_labels_and_taints() -> None:
    params = article_plans.k3s_params()
    params["nodes"][0]["labels"] = {"example.com/rack": "r1", "disk": "ssd"}
    params["nodes"][0]["taints"] = ["example.com/dedicated=db:NoSchedule", {"key": "spot", "effect": "PreferNoSchedule"}]
    plan = ap.build_plan(params)
    node = plan["nodes"][params["nodes"][0]["name"]]
    assert node["labels"] == {"disk": "ssd", "example.com/rack": "r1"}
    assert node["taints"] == [{"key": "example.com/dedicated", "value": "db", "effect": "NoSchedule"},
                              {"key": "spot", "effect": "PreferNoSchedule"}]
    planned = ap.Plan.from_fact(plan).node(params["nodes"][0]["name"])
    assert planned.labels == node["labels"] and list(planned.taints) == node["taints"]


def test_nodes_without_labels_have_empty_ones() -> None:
    plan = article_plans.kubeadm_plan()
    assert all(node["labels"] == {} and node["taints"] == [] for node in plan["nodes"].values())


def test_a_refusal_names_the_variable_the_host_the_value_and_the_fix() -> None:
    params = article_plans.kubeadm_params()
    params["nodes"][1]["labels"] = {"node-role.kubernetes.io/worker": ""}
    params["nodes"][1]["taints"] = ["dedicated=db:NoSchedul"]
    with pytest.raises(ap.AddressPlanError) as caught:
        ap.build_plan(params)
    message = ap.as_variables(str(caught.value), "address_plan_")
    assert "address_plan_node_labels of worker: node-role.kubernetes.io/worker is a label" in message
    assert "kubectl label" in message
    assert "address_plan_node_taints of worker: dedicated=db:NoSchedul has the effect NoSchedul" in message
    assert "no host was changed" in message
