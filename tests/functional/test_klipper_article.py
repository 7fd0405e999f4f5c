"""klipper_dualstack_lb against the k3s article (seeds/003_*.txt): its Traefik Service,
read from the article's text, gives the article's hand-written svclb-traefik DaemonSet in
format split and k3s ServiceLB's form in format dest_ips; both pass kubernetes-validate
--strict for every Kubernetes version from 1.25 it has schemas for."""
from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess

import pytest
import yaml

FORK_IMAGE = "mtr.external.otc.telekomcloud.com/eumel8/klipper-lb:dual-stack"


@pytest.fixture(scope="module")
def article(shared: pathlib.Path) -> str:
    found = sorted((shared / "seeds").glob("003_*.txt"))
    if not found:
        pytest.skip("the k3s article (seeds/003_*.txt) is not in %s" % shared)
    return found[0].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def article_daemonset(article: str) -> dict:
    start = article.index("apiVersion: apps/v1\nkind: DaemonSet")
    end = article.index("type: RollingUpdate", start) + len("type: RollingUpdate")
    return yaml.safe_load(article[start:end])


@pytest.fixture(scope="module")
def article_service(article: str, article_daemonset: dict) -> dict:
    """The Traefik Service as the article shows it: clusterIPs from its kubectl output, the
    ports its DaemonSet forwards, RequireDualStack and IPv4 first from its HelmChart values."""
    cluster_ips = json.loads(re.search(r'jsonpath="\{\.spec\.clusterIPs\}"\n(\[.*\])', article).group(1))
    ports = sorted({p["containerPort"] for c in article_daemonset["spec"]["template"]["spec"]["containers"]
                    for p in c["ports"]})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "traefik", "namespace": "kube-system"},
        "spec": {"type": "LoadBalancer", "ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"],
                 "clusterIPs": cluster_ips, "clusterIP": cluster_ips[0],
                 "ports": [{"port": port, "protocol": "TCP"} for port in ports]},
    }


def render(repo: pathlib.Path, service: dict, **options) -> dict:
    """Run the module on the controller as ansible does, with no cluster, and return its daemonset."""
    args = json.dumps(dict(options, service=service))
    environment = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    proc = subprocess.run(["ansible", "localhost", "-m", "dualstack.kubernetes.klipper_dualstack_lb", "-a", args],
                          cwd=repo, env=environment, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["changed"] is False
    return result["daemonset"]


@pytest.fixture(scope="module")
def split(repo, article_service):
    return render(repo, article_service, format="split", image=FORK_IMAGE)


@pytest.fixture(scope="module")
def dest_ips(repo, article_service):
    return render(repo, article_service)


def by_name(daemonset: dict) -> dict:
    return {c["name"]: c for c in daemonset["spec"]["template"]["spec"]["containers"]}


def env(container: dict) -> dict:
    return {item["name"]: item["value"] for item in container["env"]}


def test_the_article_service_is_what_the_task_names(article_service):
    assert article_service["spec"]["clusterIPs"] == ["10.43.206.211", "fd45:a71:55a6:1:2:1:0:db1"]
    assert [p["port"] for p in article_service["spec"]["ports"]] == [80, 443, 9000]


def test_split_gives_the_articles_containers(split, article_daemonset):
    ours = split
    theirs = by_name(article_daemonset)
    assert set(by_name(ours)) == set(theirs) == {"lb-port-80", "lb-port-443", "lb-port-9000"}
    for name, container in by_name(ours).items():
        assert container["ports"] == theirs[name]["ports"]
        assert container["securityContext"] == theirs[name]["securityContext"]
        their_env = env(theirs[name])
        # The article's 80 and 443 run the fork and get both addresses; its 9000 ran the
        # upstream v0.2.0 image, which knew DEST_IP only. The module serves every port in
        # both families, so 9000 gets DEST_IP6 as well.
        assert {k: v for k, v in env(container).items() if k in their_env} == their_env
        assert env(container)["DEST_IP6"] == "fd45:a71:55a6:1:2:1:0:db1"


def test_split_env_values_of_the_fork_ports_match_exactly(split, article_daemonset):
    ours = by_name(split)
    for name in ("lb-port-80", "lb-port-443"):
        assert ours[name]["env"] == by_name(article_daemonset)[name]["env"]
        assert ours[name]["image"] == by_name(article_daemonset)[name]["image"]


def test_split_keeps_the_articles_name_selector_and_tolerations(split, article_daemonset):
    ours = split
    assert ours["metadata"]["name"] == article_daemonset["metadata"]["name"] == "svclb-traefik"
    assert ours["metadata"]["namespace"] == article_daemonset["metadata"]["namespace"]
    assert ours["spec"]["selector"] == article_daemonset["spec"]["selector"]

    def tolerations(ds):
        return sorted(json.dumps(t, sort_keys=True) for t in ds["spec"]["template"]["spec"]["tolerations"])

    assert tolerations(ours) == tolerations(article_daemonset)


def test_dest_ips_gives_the_servicelb_form(dest_ips):
    ours = by_name(dest_ips)
    assert list(ours) == ["lb-tcp-80", "lb-tcp-443", "lb-tcp-9000"]
    for name, container in ours.items():
        port = name.rsplit("-", 1)[1]
        assert container["image"] == "rancher/klipper-lb:v0.4.13"
        assert container["env"] == [
            {"name": "SRC_PORT", "value": port},
            {"name": "SRC_RANGES", "value": "0.0.0.0/0 ::/0"},
            {"name": "DEST_PROTO", "value": "TCP"},
            {"name": "DEST_PORT", "value": port},
            {"name": "DEST_IPS", "value": "10.43.206.211 fd45:a71:55a6:1:2:1:0:db1"},
        ]
        assert container["ports"] == [{"name": name, "containerPort": int(port), "hostPort": int(port),
                                       "protocol": "TCP"}]


def schema_versions() -> list:
    from kubernetes_validate.utils import all_versions, major_minor
    return [v for v in all_versions() if major_minor(v) >= major_minor("1.25.0")]


@pytest.mark.parametrize("fmt", ["split", "dest_ips"])
def test_both_forms_pass_kubernetes_validate_strict(repo, article_service, tmp_path, fmt):
    # With a uid, as read from a cluster, so that the ownerReference is validated too.
    service = dict(article_service, metadata=dict(article_service["metadata"], uid="6f1c2a9e-1d3b-4c55-9a0e-2b7d4e8f0a11"))
    daemonset = render(repo, service, format=fmt, **({"image": FORK_IMAGE} if fmt == "split" else {}))
    assert daemonset["metadata"]["ownerReferences"][0]["uid"] == service["metadata"]["uid"]
    manifest = tmp_path / ("svclb-%s.yaml" % fmt)
    manifest.write_text(yaml.safe_dump(daemonset))
    versions = schema_versions()
    assert versions and versions[0].startswith("1.25")
    for version in versions:
        proc = subprocess.run(["kubernetes-validate", "--strict", "-k", version, str(manifest)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (version, proc.stdout, proc.stderr)
        assert "passed" in proc.stdout, (version, proc.stdout)
