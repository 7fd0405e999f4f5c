"""calico_manifest_patch on Calico's real manifests, run through Ansible.

For every shared calico.yaml: the result parses, only the intended lines differ (the counts
are printed), a second run changes nothing, and from v3.26.5 on every object passes
kubernetes-validate --strict for every Kubernetes version it has schemas for. On v3.15.1
with the kubeadm article's settings the result is exactly the article's edit, which these
tests read from the article itself. Bad input fails and leaves the file byte-identical.
"""
from __future__ import annotations

import copy
import difflib
import functools
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml

SHARED = pathlib.Path(os.environ.get("DUALSTACK_SHARED", pathlib.Path(__file__).resolve().parents[2].parent / "shared"))
CALICO = SHARED / "manifests" / "calico"
MANIFESTS = sorted(p.name for p in CALICO.glob("calico-v*.yaml")) or ["(no shared manifests)"]
CUSTOM_RESOURCES = sorted(p.name for p in CALICO.glob("custom-resources-v*.yaml")) or ["(no shared manifests)"]

# The kubeadm article's settings: no IPIP (IPv6 has no tunnel either), MTU of the NIC,
# IPv6 NAT for its unique local pod addresses.
ARTICLE = dict(mtu=1500, ipv4_encapsulation="none", ipv6_nat_outgoing=True)
# Today's dual-stack settings, for the versions that have VXLAN for IPv6 and MTU auto-detection.
CURRENT = dict(
    ipv4_pool_cidr="10.244.0.0/16",
    ipv6_pool_cidr="fd00:1::/48",
    ipv4_encapsulation="vxlan-crosssubnet",
    ipv6_encapsulation="vxlan-crosssubnet",
    ipv6_nat_outgoing=True,
    ipv6_block_size=122,
    mtu="auto",
    ip6_autodetection_method="cidr=fd42:1ab:250::/64",
    ipam_ipv4_pools=["10.244.0.0/16"],
    ipam_ipv6_pools=["fd00:1::/48"],
)
ENV_OF_CURRENT = {
    "FELIX_IPV6SUPPORT": "true",
    "IP6": "autodetect",
    "IP6_AUTODETECTION_METHOD": "cidr=fd42:1ab:250::/64",
    "CALICO_IPV4POOL_CIDR": "10.244.0.0/16",
    "CALICO_IPV4POOL_IPIP": "Never",
    "CALICO_IPV4POOL_VXLAN": "CrossSubnet",
    "CALICO_IPV6POOL_CIDR": "fd00:1::/48",
    "CALICO_IPV6POOL_BLOCK_SIZE": "122",
    "CALICO_IPV6POOL_VXLAN": "CrossSubnet",
    "CALICO_IPV6POOL_NAT_OUTGOING": "true",
}
ENV_OF_ARTICLE = {
    "FELIX_IPV6SUPPORT": "true",
    "IP6": "autodetect",
    "CALICO_IPV4POOL_IPIP": "Never",
    "CALICO_IPV4POOL_VXLAN": "Never",
    "CALICO_IPV6POOL_NAT_OUTGOING": "true",
}


def shared_file(name: str) -> pathlib.Path:
    path = CALICO / name
    if not path.is_file():
        pytest.skip(f"the shared manifests are not beside this checkout ({CALICO} is absent)")
    return path


def run_module(args: dict, check: bool = False, diff: bool = False) -> dict:
    """One run of the module on localhost through the ansible CLI, its result as a dict."""
    cmd = ["ansible", "localhost", "-m", "dualstack.kubernetes.calico_manifest_patch", "-a", json.dumps(args)]
    cmd += ["--check"] if check else []
    cmd += ["--diff"] if diff else []
    env = dict(
        os.environ,
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"ansible printed no JSON:\n{proc.stdout}\n{proc.stderr}") from None
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def settings_for(name: str) -> dict:
    return ARTICLE if name == "calico-v3.15.1.yaml" else CURRENT


def load_all(text: str) -> list:
    return [d for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d is not None]


@pytest.fixture(scope="module")
def patched(tmp_path_factory):
    """name -> (original text, patched text, first result, second result, check-mode result)."""
    done: dict = {}

    def get(name: str):
        if name not in done:
            src = shared_file(name)
            path = tmp_path_factory.mktemp("calico") / name
            shutil.copyfile(src, path)
            args = dict(src=str(path), **settings_for(name))
            checked = run_module(args, check=True, diff=True)
            assert path.read_bytes() == src.read_bytes(), "check mode wrote the file"
            first = run_module(args, diff=True)
            second = run_module(args, diff=True)
            done[name] = (src.read_text(), path.read_text(), first, second, checked)
        return done[name]

    return get


@pytest.mark.parametrize("name", MANIFESTS)
def test_only_the_intended_lines_change(name, patched):
    before, after, first, _second, checked = patched(name)
    assert first.get("failed") is not True, first.get("msg")
    assert first["changed"] and checked["changed"]
    assert checked["changes"] == first["changes"]
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    removed = added = 0
    changed_at = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
            changed_at.append(i1)
    print(f"{name}: {removed} lines out, {added} in ({first['lines_removed']} and {first['lines_added']} reported)")
    assert (removed, added) == (first["lines_removed"], first["lines_added"])
    expected_env = ENV_OF_ARTICLE if name == "calico-v3.15.1.yaml" else ENV_OF_CURRENT
    # Each setting changes or adds at most its own value line(s): a name and a value line
    # for a new variable, one line for a changed one, plus the ipam lines and veth_mtu.
    assert removed <= len(expected_env) + 2
    assert added <= 2 * len(expected_env) + 5 + 1

    old_docs, new_docs = load_all(before), load_all(after)
    assert len(old_docs) == len(new_docs)
    for old, new in zip(old_docs, new_docs):
        ident = (old.get("kind"), old.get("metadata", {}).get("name"))
        if ident == ("ConfigMap", "calico-config"):
            old_data, new_data = dict(old["data"]), dict(new["data"])
            old_cni = json.loads(old_data.pop("cni_network_config").replace("__CNI_MTU__", "0"))
            new_cni = json.loads(new_data.pop("cni_network_config").replace("__CNI_MTU__", "0"))
            ipam = new_cni["plugins"][0].pop("ipam")
            old_cni["plugins"][0].pop("ipam")
            assert new_cni == old_cni
            assert ipam["assign_ipv4"] == "true" and ipam["assign_ipv6"] == "true"
            if name != "calico-v3.15.1.yaml":
                assert ipam["ipv4_pools"] == ["10.244.0.0/16"] and ipam["ipv6_pools"] == ["fd00:1::/48"]
            expected_mtu = "1500" if name == "calico-v3.15.1.yaml" else "0"
            assert new_data.pop("veth_mtu") == expected_mtu
            old_data.pop("veth_mtu")
            assert new_data == old_data
            old.pop("data"), new.pop("data")
        elif ident == ("DaemonSet", "calico-node"):
            old_c = [c for c in old["spec"]["template"]["spec"]["containers"] if c["name"] == "calico-node"][0]
            new_c = [c for c in new["spec"]["template"]["spec"]["containers"] if c["name"] == "calico-node"][0]
            old_env = {e["name"]: e for e in old_c.pop("env")}
            new_env = {e["name"]: e for e in new_c.pop("env")}
            want = copy.deepcopy(old_env)
            for key, value in expected_env.items():
                want[key] = {"name": key, "value": value}
            assert new_env == want
        assert new == old, f"{ident} changed beyond the dual-stack settings"


@pytest.mark.parametrize("name", MANIFESTS)
def test_second_run_changes_nothing(name, patched):
    _before, after, first, second, _checked = patched(name)
    assert first["changed"]
    assert second["changed"] is False
    assert second["changes"] == []
    assert (second["lines_removed"], second["lines_added"]) == (0, 0)
    assert "diff" not in second or not second["diff"]


def kubernetes_versions() -> list[str]:
    try:
        from kubernetes_validate import utils
    except ImportError:
        return []
    return sorted(set(utils.all_versions()), key=lambda v: tuple(int(x) for x in v.split(".")))


@pytest.mark.parametrize("name", [n for n in MANIFESTS if n != "calico-v3.15.1.yaml"])
def test_result_validates_strictly_on_every_kubernetes_version(name, patched, monkeypatch):
    # Every version the installed kubernetes-validate has schemas for (1.25 on), not a sample.
    # It parses the schema files again on each call; caching them (they are only read) takes
    # a manifest's ~40 objects x 13 versions from about 20 s to about 1 s.
    import kubernetes_validate
    from kubernetes_validate import utils

    monkeypatch.setattr(utils, "schema_contents", functools.lru_cache(maxsize=None)(utils.schema_contents))
    versions = kubernetes_versions()
    assert versions, "kubernetes-validate lists no Kubernetes versions"
    _before, after, _first, _second, _checked = patched(name)
    docs = load_all(after)
    failures = []
    for version in versions:
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except Exception as exc:  # pylint: disable=broad-except
                failures.append(f"{version} {doc['kind']}/{doc['metadata']['name']}: {getattr(exc, 'message', exc)}")
    print(f"{name}: {len(docs)} objects valid on Kubernetes {', '.join(versions)}")
    assert failures == []


# ------------------------------------------------------------------- the kubeadm article


def diff_lines(diff_text: str) -> list[tuple[str, int, str]]:
    """(sign, line number, text) of every removed and added line of a unified diff; old line
    numbers for removals, new ones for additions. Stops at the first line that is not diff."""
    out: list[tuple[str, int, str]] = []
    old = new = 0
    for line in diff_text.splitlines():
        if line.startswith(("--- ", "+++ ")):
            continue
        hunk = re.match(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", line)
        if hunk:
            old, new = int(hunk.group(1)), int(hunk.group(2))
        elif line.startswith("-"):
            out.append(("-", old, line[1:]))
            old += 1
        elif line.startswith("+"):
            out.append(("+", new, line[1:]))
            new += 1
        elif line.startswith(" "):
            old, new = old + 1, new + 1
        else:
            break
    return out


@pytest.fixture(scope="module")
def article_diff() -> str:
    seeds = SHARED / "seeds"
    found = sorted(seeds.glob("000_*.txt"))
    if not found:
        pytest.skip(f"the kubeadm article is not beside this checkout ({seeds} is absent)")
    lines = found[0].read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("$ diff -u calico.yaml.org calico.yaml"))
    return "".join(lines[start + 1:])


def test_article_settings_on_v3_15_1_give_the_articles_edit(patched, article_diff):
    before, after, first, _second, _checked = patched("calico-v3.15.1.yaml")
    theirs = diff_lines(article_diff)
    ours = diff_lines(first["diff"]["prepared"])
    # The article's diff removes 4 lines and adds 10.
    assert sum(1 for sign, _n, _t in theirs if sign == "-") == 4
    assert sum(1 for sign, _n, _t in theirs if sign == "+") == 10
    for mine, article in zip(ours, theirs):
        assert mine == article
    assert len(ours) == len(theirs)

    # The article's edit applied to the original file is byte for byte the module's output.
    expected = before.splitlines(keepends=True)
    for sign, number, text in reversed([x for x in theirs if x[0] == "-"]):
        assert expected[number - 1] == text + "\n"
        del expected[number - 1]
    for sign, number, text in [x for x in theirs if x[0] == "+"]:
        expected.insert(number - 1, text + "\n")
    assert "".join(expected) == after


# ------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "source, args, words",
    [
        ("calico-v3.15.1.yaml", dict(ipv6_pool_cidr="fd00:1::/129"), ["ipv6_pool_cidr", "fd00:1::/129"]),
        ("calico-v3.15.1.yaml", dict(ipv4_pool_cidr="10.244.0.0"), ["ipv4_pool_cidr", "not a CIDR"]),
        ("calico-v3.15.1.yaml", dict(ipv6_encapsulation="vxlan"), ["v3.23", "v3.15.1"]),
        ("calico-v3.15.1.yaml", dict(mtu="auto"), ["v3.17", "v3.15.1"]),
        ("tigera-operator-v3.28.5.yaml", dict(), ["not a Calico manifest"]),
        ("../../seeds/README.md", dict(), ["not a Kubernetes YAML manifest"]),
    ],
)
def test_bad_input_fails_and_leaves_the_file_byte_identical(tmp_path, source, args, words):
    src = shared_file(source)
    path = tmp_path / "input.yaml"
    shutil.copyfile(src, path)
    before = path.read_bytes()
    result = run_module(dict(src=str(path), backup=True, **args))
    assert result.get("failed") is True
    for word in words:
        assert word in result["msg"]
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["input.yaml"]


# ------------------------------------------------------------------- operator mode


@pytest.mark.parametrize("name", CUSTOM_RESOURCES)
def test_operator_custom_resources(tmp_path, name):
    src = shared_file(name)
    path = tmp_path / name
    shutil.copyfile(src, path)
    version = re.search(r"v(\d+\.\d+\.\d+)", name).group(1)
    args = dict(src=str(path), calico_version=version, ipv4_pool_cidr="10.244.0.0/16",
                ipv6_pool_cidr="fd00:1::/48", ipv6_encapsulation="vxlan", ipv6_nat_outgoing=True,
                ip6_autodetection_method="kubernetes-internal-ip")
    first = run_module(args, diff=True)
    assert first["changed"] and first["manifest_type"] == "operator"
    print(f"{name}: {first['lines_removed']} lines out, {first['lines_added']} in")
    old_docs, new_docs = load_all(src.read_text()), load_all(path.read_text())
    assert [d["kind"] for d in new_docs] == [d["kind"] for d in old_docs]
    network = [d for d in new_docs if d["kind"] == "Installation"][0]["spec"]["calicoNetwork"]
    pools = network["ipPools"]
    assert [p["cidr"] for p in pools] == ["10.244.0.0/16", "fd00:1::/48"]
    assert pools[1] == {"name": "default-ipv6-ippool", "blockSize": 122, "cidr": "fd00:1::/48",
                        "encapsulation": "VXLAN", "natOutgoing": "Enabled", "nodeSelector": "all()"}
    assert network["nodeAddressAutodetectionV6"] == {"kubernetes": "NodeInternalIP"}
    # The other resources and the rest of the Installation are untouched.
    for old, new in zip(old_docs, new_docs):
        if old["kind"] != "Installation":
            assert old == new
    assert (first["lines_removed"], first["lines_added"]) == (1, 6 + 1 + 2)
    assert run_module(args)["changed"] is False
