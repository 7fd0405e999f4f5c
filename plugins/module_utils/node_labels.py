# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node labels and taints as a node registers itself: the Kubernetes syntax and the kubelet's limits.

Both distributions hand a node's labels and taints to its kubelet (kubeadm through
``nodeRegistration``, k3s through ``node-label``/``node-taint``, which k3s passes on as the
kubelet's ``--node-labels`` and ``--register-with-taints``: k3s-io/k3s
pkg/daemons/agent/agent_linux.go), so one set of rules holds for both. Where they come from,
all in github.com/kubernetes/kubernetes:

* Label keys are qualified names: an optional DNS-1123 subdomain prefix (at most 253
  characters) and '/', then a name of at most 63 characters that starts and ends with a letter
  or digit and has only letters, digits, '-', '_' and '.' between. Label values are empty or
  such a name. (staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go,
  IsQualifiedName, IsValidLabelValue, IsDNS1123Subdomain, at commit 03014f48)
* The kubelet refuses to set on itself any label in the kubernetes.io or k8s.io namespaces
  (the namespace itself or a subdomain of it) but those under kubelet.kubernetes.io and
  node.kubernetes.io and a fixed list of well-known ones: it fails to start with "unknown
  'kubernetes.io' or 'k8s.io' labels specified with --node-labels". node-role.kubernetes.io
  is among the refused: such labels are set through the API after the node has joined.
  (cmd/kubelet/app/options/options.go ValidateKubeletFlags and isKubernetesLabel;
  staging/src/k8s.io/kubelet/pkg/apis/well_known_labels.go kubeletLabels,
  kubeletLabelNamespaces, IsKubeletLabel)
* A taint is key[=value]:effect with a qualified-name key, a label-value value and one of
  the effects NoSchedule, PreferNoSchedule and NoExecute; a node carries each (key, effect)
  pair once. (pkg/util/taints/taints.go parseTaint, validateTaintEffect and ParseTaints,
  which also refuses a taint without an effect when adding one)
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import Problem, show

QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
DNS_SUBDOMAIN_MAX = 253
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(r"^" + _DNS_LABEL + r"(\." + _DNS_LABEL + r")*$")

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
KUBERNETES_NAMESPACES = ("kubernetes.io", "k8s.io")
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
KUBELET_LABELS = (
    "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type", "beta.kubernetes.io/os",
    "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
    "kubernetes.io/arch", "kubernetes.io/hostname", "kubernetes.io/os",
    "node.kubernetes.io/instance-type", "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
)

_KEY_FIX = ("Write the key as name or prefix/name: the name at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit; the prefix a lowercase DNS name, e.g. example.com/rack")
_VALUE_FIX = ("Write the value as at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter "
              "or digit, or empty; quote it in YAML")


def _in_namespace(namespace: str, domains: t.Iterable[str]) -> bool:
    return any(namespace == domain or namespace.endswith("." + domain) for domain in domains)


def key_errors(key: str) -> t.List[str]:
    """Why ``key`` is no qualified name (a label or taint key), empty when it is one."""
    parts = key.split("/")
    if len(parts) > 2:
        return ["has more than one '/'; a key is name or prefix/name"]
    errors = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("has an empty prefix before '/'")
        elif len(prefix) > DNS_SUBDOMAIN_MAX:
            errors.append(f"has a prefix of {len(prefix)} characters, more than {DNS_SUBDOMAIN_MAX}")
        elif not _DNS_SUBDOMAIN.match(prefix):
            errors.append("has a prefix that is no lowercase DNS subdomain (letters, digits, '-' and '.')")
    if not name:
        errors.append("has an empty name")
    elif len(name) > QUALIFIED_NAME_MAX:
        errors.append(f"has a name of {len(name)} characters, more than {QUALIFIED_NAME_MAX}")
    elif not _QUALIFIED_NAME.match(name):
        errors.append("has a name with characters other than letters, digits, '-', '_' and '.', "
                      "or one that does not start and end with a letter or digit")
    return errors


def value_errors(value: str) -> t.List[str]:
    """Why ``value`` is no label value, empty when it is one."""
    if len(value) > LABEL_VALUE_MAX:
        return [f"has {len(value)} characters, more than {LABEL_VALUE_MAX}"]
    if value and not _QUALIFIED_NAME.match(value):
        return ["has characters other than letters, digits, '-', '_' and '.', or does not start and end "
                "with a letter or digit"]
    return []


def kubelet_refuses(key: str) -> bool:
    """Whether the kubelet refuses to set this label on its own Node."""
    namespace = key.split("/", 1)[0] if "/" in key else ""
    if not _in_namespace(namespace, KUBERNETES_NAMESPACES):
        return False
    return key not in KUBELET_LABELS and not _in_namespace(namespace, KUBELET_LABEL_NAMESPACES)


def _text(value: t.Any) -> t.Optional[str]:
    """A scalar as Kubernetes reads it; None for what YAML would have turned into something else."""
    if value is None:
        return ""
    if isinstance(value, bool) or isinstance(value, float):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return None


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    def as_dict(self) -> t.Dict[str, str]:
        taint = {"key": self.key, "effect": self.effect}
        if self.value:
            taint["value"] = self.value
        return taint

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


def check_labels(option: str, labels: t.Any) -> t.Tuple[t.Dict[str, str], t.List[Problem]]:
    """A node's labels, checked; ``option`` names the variable (and host) in problems."""
    if labels is None:
        return {}, []
    if not isinstance(labels, t.Mapping):
        return {}, [Problem(option, labels, "is not a mapping of label keys to values",
                            "Write it as {key: value}, e.g. {example.com/rack: r1}")]
    problems: t.List[Problem] = []
    checked: t.Dict[str, str] = {}
    for raw_key, raw_value in labels.items():
        key = raw_key if isinstance(raw_key, str) else None
        if key is None:
            problems.append(Problem(option, raw_key, "is a label key that is not a string", _KEY_FIX))
            continue
        errors = key_errors(key)
        if errors:
            problems.append(Problem(option, key, "is no label key: it " + "; it ".join(errors), _KEY_FIX))
            continue
        if kubelet_refuses(key):
            problems.append(Problem(
                option, key,
                "is a label in the kubernetes.io/k8s.io namespaces that the kubelet refuses to set on its own "
                f"Node (it allows only {', '.join(KUBELET_LABEL_NAMESPACES)} and the well-known labels), so the "
                "node would not start",
                "Use a key of your own domain (e.g. example.com/role), or set this label with kubectl label "
                "after the node has joined"))
            continue
        value = _text(raw_value)
        if value is None:
            problems.append(Problem(
                f"{option}, key {key},", raw_value,
                "is not a string; YAML reads true, yes, 1.5 and the like unquoted as other types",
                "Quote the value in YAML, e.g. \"true\""))
            continue
        errors = value_errors(value)
        if errors:
            problems.append(Problem(f"{option}, key {key},", value, "is no label value: it " + "; it ".join(errors),
                                    _VALUE_FIX))
            continue
        checked[key] = value
    return dict(sorted(checked.items())), problems


def parse_taint(option: str, item: t.Any) -> t.Tuple[t.Optional[Taint], t.List[Problem]]:
    """One taint from key[=value]:Effect or {key, value, effect}."""
    fix = ("Write it as key=value:Effect or key:Effect (or {key, value, effect}) with the effect one of "
           + ", ".join(TAINT_EFFECTS) + ", e.g. example.com/dedicated=gpu:NoSchedule")
    if isinstance(item, t.Mapping):
        unknown = sorted(str(name) for name in item if name not in ("key", "value", "effect"))
        if unknown:
            return None, [Problem(option, dict(item), f"has {', '.join(unknown)}; a taint has key, value and effect", fix)]
        key, value, effect = item.get("key"), _text(item.get("value")), item.get("effect")
        if not isinstance(key, str) or not isinstance(effect, str) or value is None:
            return None, [Problem(option, dict(item), "needs a string key and effect and a string value (or none)", fix)]
    elif isinstance(item, str):
        head, colon, effect = item.rpartition(":")
        if not colon:
            return None, [Problem(option, item, "has no effect after a ':'; a taint needs one to be added", fix)]
        key, _equals, value = head.partition("=")
        if "=" in value or ":" in head:
            return None, [Problem(option, item, "has more than one '=' or ':'", fix)]
    else:
        return None, [Problem(option, item, "is neither a key=value:Effect string nor a {key, value, effect} mapping", fix)]
    problems = []
    if effect not in TAINT_EFFECTS:
        problems.append(Problem(option, item, f"has the effect {show(effect)}, which is none of {', '.join(TAINT_EFFECTS)} "
                                              "(the spelling counts)", fix))
    errors = key_errors(key)
    if errors:
        problems.append(Problem(option, item, f"has the key {show(key)}, which is no qualified name: it "
                                + "; it ".join(errors), _KEY_FIX))
    errors = value_errors(value)
    if errors:
        problems.append(Problem(option, item, f"has the value {show(value)}, which is no label value: it "
                                + "; it ".join(errors), _VALUE_FIX))
    if problems:
        return None, problems
    return Taint(key, value, effect), []


def check_taints(option: str, taints: t.Any) -> t.Tuple[t.List[Taint], t.List[Problem]]:
    """A node's taints, checked; each (key, effect) pair once."""
    if taints is None:
        return [], []
    if isinstance(taints, (str, t.Mapping)) or not isinstance(taints, (list, tuple)):
        return [], [Problem(option, taints, "is not a list of taints",
                            "Write it as a list, e.g. [example.com/dedicated=gpu:NoSchedule]")]
    problems: t.List[Problem] = []
    checked: t.List[Taint] = []
    for item in taints:
        taint, item_problems = parse_taint(option, item)
        problems.extend(item_problems)
        if taint is None:
            continue
        if any(other.key == taint.key and other.effect == taint.effect for other in checked):
            problems.append(Problem(option, str(taint), f"repeats the key {taint.key} with the effect {taint.effect}; "
                                                        "a node has each key and effect pair once",
                                    "Keep one of them"))
            continue
        checked.append(taint)
    return checked, problems


def label_arguments(labels: t.Mapping[str, str]) -> t.List[str]:
    """key=value items, as --node-labels and k3s's node-label take them."""
    return [f"{key}={value}" for key, value in sorted(labels.items())]


def taint_arguments(taints: t.Iterable[t.Mapping[str, str]]) -> t.List[str]:
    """key[=value]:Effect items, as --register-with-taints and k3s's node-taint take them."""
    return [str(Taint(item["key"], item.get("value") or "", item["effect"])) for item in taints]
