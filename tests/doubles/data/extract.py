#!/usr/bin/env python
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cut the facts the test doubles need out of the upstream tables, with their sources.

The tables (k3s-flags.json, k3s-servicelb-sysctls.json, kubeadm-config-fields.json,
kubelet-safe-sysctls.json) were read from the k3s and Kubernetes sources; each value here
keeps the repository, commit or tag and path it came from. The doubles read only the
files this script writes (k3s.json, kubernetes.json), so the tests run without the tables;
tests/functional/test_double_facts.py checks that the files still agree with the tables.

    extract.py UPSTREAM_DIR [OUT_DIR]
"""

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SYSCTL = re.compile(r"net\.[a-z0-9_.]+[a-z0-9_]")


# Facts the tables lack, read from the upstream sources through the public code index for
# the doubles; each names the repository, path and, where the index gave it, the commit.
K3S_READ = {
    "config_files": {
        "rule": "config.yaml is read first if it exists, then every regular file of <config>.d whose name ends "
                ".yaml or .yml (any case), in os.ReadDir (name) order; with no config.yaml the drop-ins alone "
                "are read. A later file replaces a key; `key+` appends to the value earlier files set (a "
                "string counts as a one-item list). Keys keep the order they were first seen in.",
        "source": {"repository": "github.com/k3s-io/k3s", "path": "pkg/configfilearg/parser.go",
                   "functions": "readConfigFile, dotDFiles, toSlice, stripInvalidFlags",
                   "commit": "f646604010affc6a1d3233a8a0870bca46bf80cf"},
    },
    "kubelet_arg_override": {
        "rule": "component args from kubelet-arg are merged over k3s's own by GetArgs: `name=value` replaces "
                "k3s's value of that name, `name+=value` appends to it, `name-=value` prepends.",
        "source": {"repository": "github.com/k3s-io/k3s", "path": "pkg/util/args.go (GetArgs)",
                   "commit": "291086171ba9810f16e30595622bb401bd1d326e"},
    },
}
KUBERNETES_READ = {
    "kubelet_node_labels_and_taints": {
        "qualified_name": {"name_regex": "^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$", "name_max": 63,
                           "prefix_regex": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                           "prefix_max": 253},
        "label_value": {"regex": "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", "max": 63},
        "kubernetes_namespaces": ["kubernetes.io", "k8s.io"],
        "kubelet_label_namespaces": ["kubelet.kubernetes.io", "node.kubernetes.io"],
        "kubelet_labels": ["beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type", "beta.kubernetes.io/os",
                           "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
                           "kubernetes.io/arch", "kubernetes.io/hostname", "kubernetes.io/os",
                           "node.kubernetes.io/instance-type", "topology.kubernetes.io/region",
                           "topology.kubernetes.io/zone"],
        "taint_effects": ["NoSchedule", "PreferNoSchedule", "NoExecute"],
        "rule": "--node-labels: every key a qualified name (optional DNS-1123 subdomain prefix and '/', name), "
                "every value a label value, and no key in the kubernetes.io or k8s.io namespaces (or a subdomain) "
                "unless it is a kubelet label or lies in a kubelet label namespace, else the kubelet does not start "
                "(\"unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels\"). "
                "--register-with-taints: comma-separated key[=value]:effect, key a qualified name, value a label "
                "value, effect NoSchedule, PreferNoSchedule or NoExecute. kubeadm join of a worker writes "
                "nodeRegistration.taints into kubeadm-flags.env as --register-with-taints; kubeadm init and "
                "control-plane joins apply them through the API in the mark-control-plane phase.",
        "source": {"repository": "github.com/kubernetes/kubernetes",
                   "paths": ["staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go "
                             "(IsQualifiedName, IsValidLabelValue, IsDNS1123Subdomain; commit 03014f48)",
                             "cmd/kubelet/app/options/options.go (ValidateKubeletFlags, isKubernetesLabel)",
                             "staging/src/k8s.io/kubelet/pkg/apis/well_known_labels.go (kubeletLabels, "
                             "kubeletLabelNamespaces; commit 1c7b3d91)",
                             "pkg/util/taints/taints.go (parseTaint, validateTaintEffect; commit 0138a19f)",
                             "cmd/kubeadm/app/cmd/phases/join/kubelet.go (registerTaintsUsingFlags := "
                             "cfg.ControlPlane == nil)"],
                   "commit": "per path where the code index gave it"},
    },
    "pod_subnet_node_mask": {
        "max_diff": 16, "default_masks": {"ipv4": 24, "ipv6": 64},
        "rule": "for each pod subnet, the node mask (node-cidr-mask-size-ipv4/-ipv6 from controllerManager "
                "extraArgs, else 24 for IPv4 and 64 for IPv6) must not be shorter than the subnet's and at "
                "most PodSubnetNodeMaskMaxDiff bits longer, in either family",
        "source": {"repository": "github.com/kubernetes/kubernetes",
                   "paths": ["cmd/kubeadm/app/apis/kubeadm/validation/validation.go "
                             "(ValidatePodSubnetNodeMask, getClusterNodeMask)",
                             "cmd/kubeadm/app/constants/constants.go (PodSubnetNodeMaskMaxDiff = 16)"],
                   "commit": "not given by the code index"},
    },
    "join_control_plane": {
        "error": "unable to add a new control plane instance a cluster that doesn't have a stable "
                 "controlPlaneEndpoint address",
        "rule": "kubeadm join with a controlPlane section reads the cluster's ClusterConfiguration "
                "(kubeadm-config ConfigMap) and refuses when its controlPlaneEndpoint is empty",
        "source": {"repository": "github.com/kubernetes/kubernetes",
                   "path": "cmd/kubeadm/app/cmd/phases/join/preflight.go (checkIfReadyForAdditionalControlPlane)",
                   "commit": "not given by the code index"},
    },
}


def _load(upstream, name):
    with open(os.path.join(upstream, name), encoding="utf-8") as handle:
        return json.load(handle)


def _release_name(requested, kubernetes):
    """The table's entry name as a k3s release: "v1.33.x" read at k8s v1.33.12-k3s1 stands
    for v1.33.12+k3s1; the " (extra)" data points are releases like any other."""
    name = requested.replace(" (extra)", "")
    if name.endswith(".x"):
        name = "v" + kubernetes.lstrip("v").split("-")[0] + "+k3s1"
    return name


def _unknown_key_handling(config_file, command):
    """How a config.yaml key the command does not define is handled: "warn" (logged and
    skipped by configfilearg's stripInvalidFlags) or "error" (passed on to the CLI parser,
    which refuses an undefined flag)."""
    valid = config_file.get("valid_flags_map") or ""
    return "warn" if ('"%s"' % command) in valid else "error"


def _kubelet_allowance(entry):
    """k3s's own allowed-unsafe-sysctls for the kubelet, and when it sets them."""
    allowance = {"sysctls": [], "when": "never", "source": None}
    for code in entry["kubelet_allowed_unsafe_sysctls"]:
        text = " ".join(code["code"])
        names = SYSCTL.findall(text.split("{", 1)[1] if "{" in text else text)
        allowance = {
            "sysctls": names,
            "when": "servicelb_enabled_and_ipv6" if "EnableIPv6" in text else "servicelb_enabled",
            "via": "kubelet config file" if "AllowedUnsafeSysctls" in text else "kubelet flag",
            "source": {"repository": entry["read_at"]["repository"],
                       "commit": entry["read_at"]["commit"],
                       "path": code["path"], "line": code["line"]},
        }
    return allowance


def _uncertain(flags):
    """Keys that may exist in a release the tables could not read exactly: those a newer
    branch of the same date or the end of the master window has and the commit read has
    not (a backport may have brought them). Keys the commit read has and those do not stay
    known: the flags deprecated in v1.26 left with v1.26 (FACTS.md), not in a patch release."""
    result = {}
    for pair in flags["uncertainty_for_unread_tags"]["pairs"]:
        entry = result.setdefault(pair["requested"], {"server": set(), "agent": set()})
        for command in ("server", "agent"):
            entry[command] |= set(pair[command + "_only_in_proxy"])
    for window in flags["uncertainty_for_unread_tags"]["master_window"]["entries"]:
        entry = result.setdefault(window["requested"], {"server": set(), "agent": set()})
        for command in ("server", "agent"):
            entry[command] |= set(window[command + "_added_by_window_end"])
    return result


def k3s_facts(upstream):
    flags = _load(upstream, "k3s-flags.json")
    sysctls = {entry["requested"]: entry for entry in _load(upstream, "k3s-servicelb-sysctls.json")["versions"]}
    uncertain = _uncertain(flags)
    releases = {}
    for entry in flags["versions"]:
        requested = entry["requested"]
        if requested == "newest" or requested.startswith("same-date proxy"):
            continue  # master is no release; the proxies only bound the uncertain keys
        read_at = entry["read_at"]
        name = _release_name(requested, read_at["go_mod_kubernetes"])
        config_file = entry["config_file"]
        unsure = uncertain.get(requested, {"server": set(), "agent": set()})
        releases[name] = {
            "source": {
                "repository": read_at["repository"], "commit": read_at["commit"],
                "ref": read_at["ref"], "kubernetes": read_at["go_mod_kubernetes"],
                "paths": sorted(set(entry["server"]["source_files"]) | set(config_file["source_files"])),
                "exactness": read_at["exactness"],
            },
            "keys": {command: sorted(set(entry[command]["config_keys"]) - unsure[command])
                     for command in ("server", "agent")},
            "uncertain_keys": {command: sorted(unsure[command]) for command in ("server", "agent")},
            "unknown_key": {command: _unknown_key_handling(config_file, command)
                            for command in ("server", "agent")},
            "config_dropins": bool(config_file["dropin_dir_config_yaml_d"]),
            "append_key_plus": bool(config_file["append_syntax_key_plus"]),
            "default_config": config_file["default_path"],
            "kubelet_unsafe_sysctls": _kubelet_allowance(sysctls[requested]),
        }
    return {
        "about": "k3s server and agent config keys (flags and their aliases), the handling of "
                 "unknown config.yaml keys, and the kubelet sysctls k3s allows itself, per release. "
                 "Cut by tests/doubles/data/extract.py from k3s-flags.json and "
                 "k3s-servicelb-sysctls.json, which were read from " + flags["upstream_repository"]
                 + " at the commits under each release's source. uncertain_keys: keys whose "
                 "presence in that release the tables could not settle (neither accepted nor "
                 "refused by the double).",
        "releases": releases,
        "read_for_the_doubles": K3S_READ,
    }


def _kubelet_safe(upstream):
    table = _load(upstream, "kubelet-safe-sysctls.json")
    result = {}
    for minor, entry in table["versions"].items():
        if minor == "newest":
            continue
        names = entry.get("safe_sysctls") or entry.get("safe_sysctls_derived")
        result[minor] = {
            # "(kernel >= 3.16 only)" and the like: the name is the first word.
            "sysctls": [name.split(" ")[0] for name in names],
            "status": entry["status"],
            "source": entry.get("source") or entry.get("docs"),
        }
    return result


def kubernetes_facts(upstream):
    fields = _load(upstream, "kubeadm-config-fields.json")
    apis = {}
    for api, entry in fields["api_versions"].items():
        apis[api] = {"types": entry["types"], "source": entry["source"],
                     "extra_args": "list" if entry["extraArgs_type"].startswith("[]") else "map"}
    allowed = fields["flags_allowed_with_config"]["newest_read"]
    return {
        "about": "kubeadm config API fields per API version, kubeadm's handling of unknown fields and "
                 "of flags beside --config, and the kubelet's safe sysctls per minor. Cut by "
                 "tests/doubles/data/extract.py from kubeadm-config-fields.json and "
                 "kubelet-safe-sysctls.json, which were read from github.com/kubernetes/kubernetes "
                 "at the commits given with each value.",
        "kubeadm_apis": apis,
        "unknown_fields": {
            "init_join": "warn",
            "evidence": fields["unknown_fields_with_kubeadm_init_config"]["newest_read"]["behaviour"],
            "source": fields["unknown_fields_with_kubeadm_init_config"]["newest_read"]["source"],
        },
        "flags_with_config": {
            "allowed": [name.split(" ")[0] for name in allowed["allowed"] if not name.endswith("(prefix)")],
            "allowed_prefixes": [name.split("*")[0] for name in allowed["allowed"] if name.endswith("(prefix)")],
            "source": allowed["source"],
        },
        "kubelet_safe_sysctls": _kubelet_safe(upstream),
        "read_for_the_doubles": KUBERNETES_READ,
    }


def write(upstream, out=HERE):
    for name, facts in (("k3s.json", k3s_facts(upstream)), ("kubernetes.json", kubernetes_facts(upstream))):
        with open(os.path.join(out, name), "w", encoding="utf-8") as handle:
            json.dump(facts, handle, indent=1, sort_keys=True)
            handle.write("\n")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    write(*sys.argv[1:])
