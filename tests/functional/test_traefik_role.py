"""The traefik_dualstack role, run by ansible-playbook against local directories: the
HelmChartConfig it writes puts the dual-stack values where each Traefik chart range
reads them, and the role picks k3s ServiceLB or the svclb DaemonSet by k3s release and by
the k3s server's decisions (k3s_server_decisions, from the k3s_server options), never by
reading the server's config.yaml back."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest
import yaml

PLAN = {
    "address_plan_distribution": "k3s",
    "address_plan_kubernetes_version": "v1.31.2+k3s1",
    "address_plan_calico_version": "3.30.7",
    "address_plan_pod_cidrs": ["10.42.0.0/16", "fd42:42::/56"],
    "address_plan_service_cidrs": ["10.43.0.0/16", "fd42:43::/112"],
    "address_plan_node_mask_ipv6": 64,
}

ARTICLE_SERVICE = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "traefik", "namespace": "kube-system"},
    "spec": {"type": "LoadBalancer", "ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"],
             "clusterIPs": ["10.43.206.211", "fd45:a71:55a6:1:2:1:0:db1"],
             "ports": [{"name": "web", "port": 80, "protocol": "TCP"},
                       {"name": "websecure", "port": 443, "protocol": "TCP"},
                       {"name": "traefik", "port": 9000, "protocol": "TCP"}]},
}

EXTERNAL = ["192.168.0.15", "2003:e9:f712:a22f:a61f:72ff:fe56:1e9e"]
K3S_DOUBLE_BUILD = pathlib.Path(__file__).resolve().parents[1] / "doubles" / "k3s" / "build.py"


def run_role(repo: pathlib.Path, tmp: pathlib.Path, hosts: dict, group: dict | None = None, check=True):
    """Run the role on local pseudo-hosts, each with its own folders; return (process, folders)."""
    inventory = {"all": {"vars": dict(PLAN, ansible_connection="local",
                                      ansible_python_interpreter=os.environ.get("PYTHON", "/usr/bin/python3"),
                                      **(group or {})),
                         "hosts": {}}}
    for index, (name, host_vars) in enumerate(hosts.items()):
        base = tmp / name
        base.mkdir(parents=True)
        inventory["all"]["hosts"][name] = dict(
            address_plan_node_ipv4="10.250.0.%d" % (75 + index),
            address_plan_node_ipv6="fd42:1ab:250::%d" % (75 + index),
            traefik_dualstack_manifests_dir=str(base / "manifests"),
            **host_vars)
        for relative, text in host_vars.pop("__files", {}).items():
            path = base / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        inventory["all"]["hosts"][name].pop("__files", None)
    (tmp / "inventory.json").write_text(json.dumps(inventory))
    # After the role, each host keeps the k3s server decisions the role went by.
    (tmp / "play.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  roles:\n    - role: dualstack.kubernetes.traefik_dualstack\n"
        "  tasks:\n    - ansible.builtin.copy:\n        content: '{{ k3s_server_decisions | to_json }}'\n"
        "        dest: '%s/{{ inventory_hostname }}/decisions.json'\n        mode: '0600'\n" % tmp)
    proc = subprocess.run(["ansible-playbook", "-i", str(tmp / "inventory.json"), str(tmp / "play.yml")],
                          cwd=repo, capture_output=True, text=True, check=False)
    if check:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc


def helm_values(tmp: pathlib.Path, host: str) -> dict:
    path = tmp / host / "manifests" / "traefik-dualstack.yaml"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    document = yaml.safe_load(path.read_text())
    assert document["apiVersion"] == "helm.cattle.io/v1" and document["kind"] == "HelmChartConfig"
    assert document["metadata"] == {"name": "traefik", "namespace": "kube-system"}
    return yaml.safe_load(document["spec"]["valuesContent"])


@pytest.fixture(scope="module")
def per_range(repo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("traefik-ranges")
    hosts = {
        "chart9": {"traefik_dualstack_chart_version": "9.18.2"},
        "chart10_3": {"traefik_dualstack_chart_version": "10.3.0"},
        "chart10_9": {"traefik_dualstack_chart_version": "10.9.1"},
        "chart10_19": {"traefik_dualstack_chart_version": "10.19.3"},
        "chart39": {"traefik_dualstack_chart_version": "39.0.9"},
        "chart40": {"traefik_dualstack_chart_version": "40.0.0"},
        # No version given: k3s's own traefik.yaml names 10.9.1 in its packaged spelling.
        "detected": {"__files": {"manifests/traefik.yaml":
                                 "apiVersion: helm.cattle.io/v1\nkind: HelmChart\nmetadata:\n  name: traefik\n"
                                 "spec:\n  chart: https://%{KUBERNETES_API}%/static/charts/traefik-10.9.100.tgz\n"}},
        # Nothing to read: the k3s release (v1.31.2+k3s1) is known to bundle a 10.13-39 chart.
        "fromrelease": {},
    }
    run_role(repo, tmp, hosts, group={"traefik_dualstack_external_ips": EXTERNAL,
                                      "traefik_dualstack_values": {"logs": {"access": {"enabled": True}},
                                                                   "service": {"annotations": {"a": "b"}}}})
    return tmp


def test_chart_9_reads_everything_from_service_spec(per_range):
    service = helm_values(per_range, "chart9")["service"]
    assert service["spec"] == {"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]}
    assert service["externalIPs"] == EXTERNAL
    assert "ipFamilyPolicy" not in service and "ipFamilies" not in service


def test_chart_10_0_to_10_6_is_like_9(per_range):
    assert helm_values(per_range, "chart10_3") == helm_values(per_range, "chart9")


def test_chart_10_7_to_10_12_has_the_policy_key_but_families_in_spec(per_range):
    service = helm_values(per_range, "chart10_9")["service"]
    assert service["ipFamilyPolicy"] == "RequireDualStack"
    assert service["spec"] == {"ipFamilies": ["IPv4", "IPv6"]}
    assert service["externalIPs"] == EXTERNAL


@pytest.mark.parametrize("host", ["chart10_19", "chart39"])
def test_chart_10_13_to_39_reads_service_keys(per_range, host):
    service = helm_values(per_range, host)["service"]
    assert service["ipFamilyPolicy"] == "RequireDualStack"
    assert service["ipFamilies"] == ["IPv4", "IPv6"]
    assert service["externalIPs"] == EXTERNAL
    assert "spec" not in service


def test_chart_40_reads_everything_from_service_spec_again(per_range):
    service = helm_values(per_range, "chart40")["service"]
    assert service["spec"] == {"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"],
                               "externalIPs": EXTERNAL}
    assert set(service) == {"spec", "annotations"}


def test_the_chart_is_read_from_k3s_own_manifest(per_range):
    assert helm_values(per_range, "detected") == helm_values(per_range, "chart10_9")


def test_the_chart_is_known_from_the_k3s_release(per_range):
    assert helm_values(per_range, "fromrelease") == helm_values(per_range, "chart39")


def test_user_values_are_kept_beside_the_dual_stack_ones(per_range):
    values = helm_values(per_range, "chart40")
    assert values["logs"] == {"access": {"enabled": True}}
    assert values["service"]["annotations"] == {"a": "b"}


def test_ipv6_primary_plan_orders_the_families(repo, tmp_path):
    run_role(repo, tmp_path, {"v6first": {"traefik_dualstack_chart_version": "27.0.2"}},
             group={"address_plan_pod_cidrs": ["fd42:42::/56", "10.42.0.0/16"],
                    "address_plan_service_cidrs": ["fd42:43::/112", "10.43.0.0/16"]})
    assert helm_values(tmp_path, "v6first")["service"]["ipFamilies"] == ["IPv6", "IPv4"]


def refused_before_anything(tmp: pathlib.Path, host: str) -> None:
    """The refusal came from the controller: the server's manifests folder was not even created."""
    assert not (tmp / host / "manifests").exists()


def test_the_articles_k3s_needs_servicelb_off(repo, tmp_path):
    proc = run_role(repo, tmp_path, {"k3s121": {}}, check=False,
                    group={"address_plan_kubernetes_version": "v1.21.4+k3s1"})
    assert proc.returncode != 0
    assert "serves one family only" in proc.stdout and "k3s_server_disable ([])" in proc.stdout
    refused_before_anything(tmp_path, "k3s121")


def test_the_articles_k3s_with_servicelb_off_renders_the_svclb(repo, tmp_path):
    render = tmp_path / "svclb-traefik.yaml"
    run_role(repo, tmp_path, {"k3s121": {"k3s_server_disable": ["servicelb"]}},
             group={"address_plan_kubernetes_version": "v1.21.4+k3s1",
                    "traefik_dualstack_svclb_service": ARTICLE_SERVICE,
                    "traefik_dualstack_svclb_render_path": str(render)})
    assert helm_values(tmp_path, "k3s121")["service"]["spec"]["ipFamilyPolicy"] == "RequireDualStack"
    # k3s_server's defaults for that option: the kubelet allows what the svclb pods set.
    decisions = json.loads((tmp_path / "k3s121" / "decisions.json").read_text())
    assert decisions == {"disable": ["servicelb"], "servicelb_disabled": True,
                         "kubelet_unsafe_sysctls": ["net.ipv6.conf.all.forwarding"]}
    daemonset = yaml.safe_load(render.read_text())
    containers = daemonset["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["lb-tcp-80", "lb-tcp-443", "lb-tcp-9000"]
    # The k3s double of the release, with the config.yaml those decisions make, admits the
    # pods; without the allowance its kubelet refuses them as the real one does.
    double = tmp_path / "k3s"
    subprocess.run(["python3", str(K3S_DOUBLE_BUILD), "v1.21.4+k3s1", str(double)], check=True)
    (tmp_path / "ds.json").write_text(json.dumps(daemonset))
    config = tmp_path / "k3s121" / "config.yaml"
    config.write_text(yaml.safe_dump({
        "disable": decisions["disable"],
        "kubelet-arg": ["allowed-unsafe-sysctls=" + ",".join(decisions["kubelet_unsafe_sysctls"])]}))
    admitted = subprocess.run(["python3", str(double), "double-admit", "server", str(tmp_path / "ds.json"),
                               "--config", str(config)], capture_output=True, text=True, check=False)
    assert admitted.returncode == 0, admitted.stderr
    config.write_text("disable:\n  - servicelb\n")
    refused = subprocess.run(["python3", str(double), "double-admit", "server", str(tmp_path / "ds.json"),
                              "--config", str(config)], capture_output=True, text=True, check=False)
    assert refused.returncode == 1 and "SysctlForbidden" in refused.stderr


def test_servicelb_off_without_the_kubelet_allowance_is_refused(repo, tmp_path):
    proc = run_role(repo, tmp_path, {"k3s121": {"k3s_server_disable": ["servicelb"],
                                                "k3s_server_kubelet_unsafe_sysctls": []}},
                    check=False, group={"address_plan_kubernetes_version": "v1.21.4+k3s1"})
    assert proc.returncode != 0
    assert "SysctlForbidden" in proc.stdout and "k3s_server_kubelet_unsafe_sysctls" in proc.stdout
    assert "net.ipv6.conf.all.forwarding" in proc.stdout
    refused_before_anything(tmp_path, "k3s121")


def test_servicelb_disabled_as_a_string_is_understood(repo, tmp_path):
    run_role(repo, tmp_path, {"k3s121": {"k3s_server_disable": "traefik,servicelb"}},
             group={"address_plan_kubernetes_version": "v1.21.4+k3s1"})
    # Accepted as ServiceLB off: the dual-stack HelmChartConfig is written, as with the list form.
    assert helm_values(tmp_path, "k3s121")["service"]["spec"]["ipFamilyPolicy"] == "RequireDualStack"
    assert json.loads((tmp_path / "k3s121" / "decisions.json").read_text())["disable"] == ["traefik", "servicelb"]


def test_the_k3s_server_decisions_are_read_where_k3s_server_set_them(repo, tmp_path):
    # As after k3s_server's checks in the same run: the fact wins over the options, which
    # would otherwise allow the sysctl by default.
    decided = {"disable": ["servicelb"], "servicelb_disabled": True, "kubelet_unsafe_sysctls": []}
    proc = run_role(repo, tmp_path, {"k3s121": {"k3s_server_disable": ["servicelb"],
                                                "k3s_server_decisions": decided}},
                    check=False, group={"address_plan_kubernetes_version": "v1.21.4+k3s1"})
    assert proc.returncode != 0
    assert "SysctlForbidden" in proc.stdout and "lets the kubelet allow none" in proc.stdout
    refused_before_anything(tmp_path, "k3s121")


def test_a_bad_k3s_server_disable_is_refused_with_its_name(repo, tmp_path):
    proc = run_role(repo, tmp_path, {"k3s131": {"k3s_server_disable": ["servicelbb"]}}, check=False)
    assert proc.returncode != 0
    assert "k3s_server_disable has 'servicelbb', which k3s does not bundle" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    refused_before_anything(tmp_path, "k3s131")


def test_second_run_changes_nothing(repo, tmp_path):
    hosts = {"again": {"traefik_dualstack_chart_version": "10.19.3"}}
    run_role(repo, tmp_path, dict(hosts))
    inventory = tmp_path / "inventory.json"
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), str(tmp_path / "play.yml")],
                          cwd=repo, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "changed=0" in proc.stdout
