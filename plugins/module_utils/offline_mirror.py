# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installs with no internet: the layout of the mirror folder on the controller, the check of
every file in it against a recorded sha256, and the registry mirror files of containerd.

The folder (``offline_mirror_dir``) holds, below it::

    k3s/<tag>/k3s | k3s-arm64 | k3s-armhf               the k3s binary of the release
    k3s/<tag>/k3s-airgap-images-<arch>.tar.zst          its airgap image tarball
    kubernetes/v<version>/<arch>/kubeadm|kubelet|kubectl the kubeadm node binaries
    kubernetes/v<version>/images/*.tar                  images kubeadm needs, preloaded (optional)
    calico/v<version>/calico.yaml                       the Calico manifest
    metallb/v<version>/metallb-native.yaml              the MetalLB manifest (its role checks it)

Every file is checked on the controller before any node changes: one that is missing, damaged,
or has no sha256 the collection or the user records is refused with its path, where it comes
from and the variable to fix. Files are read in chunks, never whole, since image tarballs are
hundreds of megabytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import typing as t
from dataclasses import dataclass

from ansible_collections.dualstack.kubernetes.plugins.module_utils import release_checksums
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError, Problem

OPTION = "offline_mirror_dir"
CHECKSUMS_OPTION = "offline_mirror_checksums"
REGISTRIES_OPTION = "offline_mirror_registries"
SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
# Where k3s imports image tarballs from when its agent starts (docs.k3s.io/installation/airgap,
# "Manually Deploy Images Method": /var/lib/rancher/k3s/agent/images/).
K3S_IMAGES_DIR = "/var/lib/rancher/k3s/agent/images"
# Where containerd looks for a registry's hosts.toml once config_path names it
# (containerd docs/hosts.md: config_path = "/etc/containerd/certs.d", one folder per registry host).
CONTAINERD_CERTS_DIR = "/etc/containerd/certs.d"
# Where a kubeadm node keeps the image tarballs it imported, so that a second run sees them unchanged.
KUBEADM_IMAGES_DIR = "/var/lib/dualstack/images"
KUBERNETES_BINARIES = ("kubeadm", "kubelet", "kubectl")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Artifact:
    """One file of the mirror: where it lies in the folder, what it is, where it comes from and
    the sha256 it must have ('' when the collection records none)."""

    name: str
    path: str
    what: str
    url: str
    sha256: str = ""
    checksum_source: str = ""


def k3s_artifacts(tag: str, arch: str = "amd64") -> t.List[Artifact]:
    """The k3s binary and airgap image tarball of a release tag (v1.31.2+k3s1)."""
    asset = release_checksums.k3s_binary_asset(arch)
    base = "https://github.com/k3s-io/k3s/releases/download/%s/" % tag.replace("+", "%2B")
    sums = base + "sha256sum-%s.txt" % arch
    images = "k3s-airgap-images-%s.tar.zst" % arch
    return [
        Artifact("k3s", "k3s/%s/%s" % (tag, asset), "the k3s %s binary for %s" % (tag, arch), base + asset,
                 release_checksums.k3s_binary_sha256(tag, arch), sums),
        Artifact("k3s_images", "k3s/%s/%s" % (tag, images), "the k3s %s airgap images for %s" % (tag, arch),
                 base + images, release_checksums.k3s_airgap_images_sha256(tag, arch), sums),
    ]


def kubernetes_version(version: t.Any) -> str:
    """A Kubernetes version as its release tag: 1.31.2 -> v1.31.2."""
    text = str(version).strip()
    if not re.match(r"^v?\d+\.\d+\.\d+$", text):
        raise DualstackError(Problem("address_plan_kubernetes_version", version, "is not MAJOR.MINOR.PATCH",
                                     "Write it like 1.31.2."))
    return text if text.startswith("v") else "v" + text


def kubernetes_artifacts(version: t.Any, arch: str = "amd64") -> t.List[Artifact]:
    """kubeadm, kubelet and kubectl of a Kubernetes release."""
    tag = kubernetes_version(version)
    found = []
    for name in KUBERNETES_BINARIES:
        url = "https://dl.k8s.io/release/%s/bin/linux/%s/%s" % (tag, arch, name)
        found.append(Artifact(name, "kubernetes/%s/%s/%s" % (tag, arch, name), "%s %s for %s" % (name, tag, arch),
                              url, release_checksums.kubernetes_binary_sha256(tag, arch, name), url + ".sha256"))
    return found


def calico_artifact(version: t.Any, sha256: str = "") -> Artifact:
    """calico.yaml of a Calico release; its sum is the calico_dualstack role's record."""
    tag = "v" + str(version).lstrip("v")
    url = "https://raw.githubusercontent.com/projectcalico/calico/%s/manifests/calico.yaml" % tag
    return Artifact("calico", "calico/%s/calico.yaml" % tag, "calico.yaml of Calico %s" % tag, url,
                    str(sha256 or "").replace("sha256:", ""), "sha256sum of " + url)


def image_artifacts(folder: str, version: t.Any) -> t.List[Artifact]:
    """The image tarballs a user exported into kubernetes/v<version>/images/, in name order.

    They are the user's own exports (their bytes depend on the tool that wrote them), so no
    upstream sum exists: each needs one in offline_mirror_checksums."""
    relative = "kubernetes/%s/images" % kubernetes_version(version)
    where = os.path.join(folder, relative)
    try:
        names = sorted(name for name in os.listdir(where) if name.endswith(".tar"))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise DualstackError(Problem(OPTION, folder, "has a folder %s that cannot be read (%s)" % (relative, exc.strerror),
                                     "Make it readable by the user that runs Ansible."))
    return [Artifact("image", "%s/%s" % (relative, name), "the image tarball %s" % name,
                     "an export of an image that 'kubeadm config images list' names (ctr images export)",
                     "", "sha256sum of the tarball when it was exported") for name in names]


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def user_checksums(checksums: t.Any) -> t.Dict[str, str]:
    """offline_mirror_checksums as {path in the folder: hex}, every value checked."""
    if checksums in (None, ""):
        return {}
    if not isinstance(checksums, dict):
        raise DualstackError(Problem(CHECKSUMS_OPTION, checksums, "is not a mapping",
                                     "Map each file's path in the mirror folder to sha256:<hex>."))
    problems = []
    found = {}
    for path, value in checksums.items():
        text = str(value).strip().lower()
        if not SHA256.match(text):
            problems.append(Problem("%s[%s]" % (CHECKSUMS_OPTION, path), value, "is not sha256: and 64 hex digits",
                                    "Write it as sha256:<hex>, as sha256sum prints the hex."))
        found[str(path).strip("/")] = text[len("sha256:"):]
    if problems:
        raise DualstackError(problems)
    return found


def verify(folder: t.Any, artifacts: t.Sequence[Artifact], checksums: t.Any = None) -> t.List[t.Dict[str, str]]:
    """Check every artifact in the folder; return each as {name, path, src, sha256, url}.

    All problems are found before one is raised, so that one run names every file to fetch."""
    if not folder or not isinstance(folder, str):
        raise DualstackError(Problem(OPTION, folder, "is not a path", "Name the mirror folder on the controller."))
    if not os.path.isabs(folder):
        raise DualstackError(Problem(OPTION, folder, "is a relative path",
                                     "Give the folder's absolute path, for example {{ playbook_dir }}/mirror."))
    if not os.path.isdir(folder):
        raise DualstackError(Problem(OPTION, folder, "is not a folder on the controller",
                                     "Create it with the layout of the README's 'Installs with no internet'."))
    given = user_checksums(checksums)
    problems = []
    verified = []
    for artifact in artifacts:
        src = os.path.join(folder, artifact.path)
        expected = given.get(artifact.path) or artifact.sha256
        if not os.path.isfile(src):
            problems.append(Problem(OPTION, folder, "has no %s (%s)" % (artifact.path, artifact.what),
                                    "Download it from %s to %s." % (artifact.url, src)))
            continue
        if not expected:
            problems.append(Problem(OPTION, folder, "holds %s (%s), but the collection records no sha256 for it"
                                    % (artifact.path, artifact.what),
                                    "Set %s['%s'] to sha256:<hex> from %s."
                                    % (CHECKSUMS_OPTION, artifact.path, artifact.checksum_source)))
            continue
        try:
            actual = sha256_of(src)
        except OSError as exc:
            problems.append(Problem(OPTION, folder, "holds %s that cannot be read (%s)" % (artifact.path, exc.strerror),
                                    "Make it readable by the user that runs Ansible."))
            continue
        if actual != expected:
            source = "%s['%s']" % (CHECKSUMS_OPTION, artifact.path) if artifact.path in given else "the collection's record"
            problems.append(Problem(OPTION, folder, "holds %s with sha256 %s, not %s (%s) for %s"
                                    % (artifact.path, actual, expected, source, artifact.what),
                                    "The file is damaged or of another release: download it again from %s. "
                                    "Nothing was changed on any host." % artifact.url))
            continue
        verified.append({"name": artifact.name, "path": artifact.path, "src": src, "sha256": actual,
                         "url": artifact.url})
    if problems:
        raise DualstackError(problems, summary="the offline mirror %s is not complete (%d files)" % (folder, len(problems)))
    return verified


# Registry mirrors: k3s reads registries.yaml; kubeadm nodes get containerd's hosts.toml.
_REGISTRY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")
_ENDPOINT = re.compile(r"^https?://[^\s/\"]+(/[^\s\"]*)?$")
_MIRROR_KEYS = {"endpoint", "rewrite"}
_CONFIG_KEYS = {"auth", "tls"}
_AUTH_KEYS = {"username", "password", "auth", "identity_token"}
_TLS_KEYS = {"ca_file", "cert_file", "key_file", "insecure_skip_verify"}


def _unknown(where: str, value: t.Any, allowed: t.Set[str]) -> t.List[Problem]:
    if not isinstance(value, dict):
        # Below configs a value in the wrong place may still be a password: it is never shown.
        return [Problem(where, value, "is not a mapping", "Write it as a mapping of %s." % ", ".join(sorted(allowed)),
                        secret=".configs" in where)]
    return [Problem("%s.%s" % (where, key), "(set)", "is not a key this collection writes",
                    "Use %s." % ", ".join(sorted(allowed))) for key in value if key not in allowed]


def registries(value: t.Any) -> t.Dict[str, t.Any]:
    """offline_mirror_registries checked: {mirrors: {registry: {endpoint: [...]}}, configs: {host: {...}}},
    the shape of k3s's registries.yaml (docs.k3s.io/installation/private-registry)."""
    if value in (None, "", {}):
        return {"mirrors": {}, "configs": {}}
    problems = _unknown(REGISTRIES_OPTION, value, {"mirrors", "configs"})
    if problems:
        raise DualstackError(problems)
    mirrors = value.get("mirrors") or {}
    configs = value.get("configs") or {}
    problems = _unknown(REGISTRIES_OPTION + ".mirrors", mirrors, set(mirrors) if isinstance(mirrors, dict) else set())
    problems += _unknown(REGISTRIES_OPTION + ".configs", configs, set(configs) if isinstance(configs, dict) else set())
    if problems:
        raise DualstackError(problems)
    for name, mirror in mirrors.items():
        where = "%s.mirrors[%s]" % (REGISTRIES_OPTION, name)
        if not _REGISTRY.match(str(name)):
            problems.append(Problem(where, name, "is not a registry host[:port]", "Name it like docker.io or registry.k8s.io."))
        problems += _unknown(where, mirror, _MIRROR_KEYS)
        if not isinstance(mirror, dict):
            continue
        endpoints = mirror.get("endpoint")
        if not isinstance(endpoints, list) or not endpoints:
            problems.append(Problem(where + ".endpoint", endpoints, "is not a list of URLs",
                                    "List the mirror's URLs, for example [https://mirror.example:5000]."))
            continue
        for url in endpoints:
            if not _ENDPOINT.match(str(url)):
                problems.append(Problem(where + ".endpoint", url, "is not an http:// or https:// URL",
                                        "Write it like https://mirror.example:5000."))
    for host, config in configs.items():
        where = "%s.configs[%s]" % (REGISTRIES_OPTION, host)
        if not _REGISTRY.match(str(host)):
            problems.append(Problem(where, host, "is not a registry host[:port]", "Name it like mirror.example:5000."))
        problems += _unknown(where, config, _CONFIG_KEYS)
        if isinstance(config, dict):
            if "auth" in config:
                problems += _unknown(where + ".auth", config["auth"], _AUTH_KEYS)
            if "tls" in config:
                problems += _unknown(where + ".tls", config["tls"], _TLS_KEYS)
    if problems:
        raise DualstackError(problems)
    return {"mirrors": mirrors, "configs": configs}


def registries_secret(value: t.Any) -> bool:
    """Whether the registries hold credentials (then their file is shown nowhere)."""
    return any("auth" in (config or {}) for config in registries(value)["configs"].values())


def _quoted(value: t.Any) -> str:
    # A JSON string is also a YAML double-quoted scalar and a TOML basic string.
    return json.dumps(str(value))


def registries_yaml(value: t.Any, owner: str = "dualstack.kubernetes.k3s_node") -> str:
    """/etc/rancher/k3s/registries.yaml; every string double-quoted, so no value is read as YAML."""
    checked = registries(value)
    lines = ["# Managed by %s; k3s reads it when it starts." % owner]
    for section in ("mirrors", "configs"):
        if not checked[section]:
            continue
        lines.append("%s:" % section)
        for name in sorted(checked[section]):
            lines.append("  %s:" % _quoted(name))
            for key, item in sorted(checked[section][name].items()):
                if isinstance(item, list):
                    lines.append("    %s:" % key)
                    lines.extend("      - %s" % _quoted(entry) for entry in item)
                elif isinstance(item, dict):
                    lines.append("    %s:" % key)
                    for sub, subvalue in sorted(item.items()):
                        shown = ("true" if subvalue else "false") if isinstance(subvalue, bool) else _quoted(subvalue)
                        lines.append("      %s: %s" % (sub, shown))
    return "\n".join(lines) + "\n"


def _host_of(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def hosts_toml(value: t.Any) -> t.Dict[str, str]:
    """containerd's hosts.toml of each mirrored registry, by path on the node.

    A registry's upstream stays its ``server`` (docker.io's is registry-1.docker.io, as containerd's
    docs/hosts.md shows); the mirrors are ``[host."<url>"]`` entries tried first, with pull and
    resolve (a private mirror may resolve tags, containerd's table of capabilities). TLS settings
    of a mirror's host come from configs; credentials cannot go into hosts.toml and are refused."""
    checked = registries(value)
    problems = [Problem("%s.configs[%s].auth" % (REGISTRIES_OPTION, host), "(secret)",
                        "is for k3s only: containerd's hosts.toml has no credentials",
                        "Give kubeadm nodes a mirror that needs no login, or remove the auth.", secret=True)
                for host, config in sorted(checked["configs"].items()) if "auth" in (config or {})]
    if problems:
        raise DualstackError(problems)
    files = {}
    for name in sorted(checked["mirrors"]):
        server = "https://registry-1.docker.io" if name == "docker.io" else "https://%s" % name
        lines = ["# Managed by dualstack.kubernetes.kubeadm_node: the mirrors of %s, tried before it." % name,
                 "server = %s" % _quoted(server)]
        for url in checked["mirrors"][name]["endpoint"]:
            lines += ["", "[host.%s]" % _quoted(url), '  capabilities = ["pull", "resolve"]']
            tls = (checked["configs"].get(_host_of(url)) or {}).get("tls") or {}
            if tls.get("ca_file"):
                lines.append("  ca = %s" % _quoted(tls["ca_file"]))
            if tls.get("cert_file"):
                lines.append("  client = [[%s, %s]]" % (_quoted(tls["cert_file"]), _quoted(tls.get("key_file", ""))))
            if tls.get("insecure_skip_verify"):
                lines.append("  skip_verify = true")
        files["%s/%s/hosts.toml" % (CONTAINERD_CERTS_DIR, name)] = "\n".join(lines) + "\n"
    return files
