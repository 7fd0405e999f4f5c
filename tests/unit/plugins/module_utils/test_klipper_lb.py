# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building the svclb DaemonSet from a Service, and the live path against fake
CoreV1Api/AppsV1Api objects (the kubernetes client boundary)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError
from ansible_collections.dualstack.kubernetes.plugins.module_utils import klipper_lb as lb
from ansible_collections.dualstack.kubernetes.plugins.module_utils.klipper_lb_client import KubernetesApi
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils.klipper_fakes import (
    Cluster,
    FakeAppsV1Api,
    FakeCoreV1Api,
    article_service,
    node,
)

V4 = "10.43.206.211"
V6 = "fd45:a71:55a6:1:2:1:0:db1"


def containers(daemonset):
    return daemonset["spec"]["template"]["spec"]["containers"]


def env(container):
    return {item["name"]: item["value"] for item in container["env"]}


# --- building ---------------------------------------------------------------------------

def test_dest_ips_has_one_container_per_port_named_like_servicelb():
    ds = lb.build_daemonset(article_service())
    assert [c["name"] for c in containers(ds)] == ["lb-tcp-80", "lb-tcp-443", "lb-tcp-9000"]
    assert [c["ports"][0]["hostPort"] for c in containers(ds)] == [80, 443, 9000]
    assert [e["name"] for e in containers(ds)[0]["env"]] == ["SRC_PORT", "SRC_RANGES", "DEST_PROTO", "DEST_PORT",
                                                             "DEST_IPS"]
    assert env(containers(ds)[0])["DEST_IPS"] == "%s %s" % (V4, V6)
    assert all(c["image"] == lb.DEFAULT_IMAGE for c in containers(ds))


def test_split_uses_dest_ip_and_dest_ip6_and_the_articles_names():
    ds = lb.build_daemonset(article_service(), fmt="split", image="example/klipper-lb:dual-stack")
    assert [c["name"] for c in containers(ds)] == ["lb-port-80", "lb-port-443", "lb-port-9000"]
    assert env(containers(ds)[1]) == {"SRC_PORT": "443", "DEST_PROTO": "TCP", "DEST_PORT": "443",
                                      "DEST_IP": V4, "DEST_IP6": V6}


def test_split_without_image_is_refused_naming_the_option():
    with pytest.raises(lb.DualstackError, match="format split needs image"):
        lb.build_daemonset(article_service(), fmt="split")


def test_only_net_admin_is_added():
    for container in containers(lb.build_daemonset(article_service())):
        assert container["securityContext"] == {"capabilities": {"add": ["NET_ADMIN"]}}


def test_ipv6_forwarding_sysctl_only_with_an_ipv6_cluster_ip():
    dual = lb.build_daemonset(article_service())["spec"]["template"]["spec"]
    assert dual["securityContext"]["sysctls"] == [{"name": "net.ipv6.conf.all.forwarding", "value": "1"}]
    v4only = lb.build_daemonset(article_service(ipFamilyPolicy="SingleStack", ipFamilies=["IPv4"],
                                                clusterIPs=[V4]))["spec"]["template"]["spec"]
    assert "securityContext" not in v4only


def test_pod_sysctls_are_the_one_list_the_daemonset_and_the_nodes_share():
    assert lb.pod_sysctls(["IPv4", "IPv6"]) == ["net.ipv6.conf.all.forwarding"]
    assert lb.pod_sysctls(["ipv6"]) == ["net.ipv6.conf.all.forwarding"]
    assert lb.pod_sysctls(["IPv4"]) == [] and lb.pod_sysctls(None) == []
    spec = lb.build_daemonset(article_service())["spec"]["template"]["spec"]
    assert [s["name"] for s in spec["securityContext"]["sysctls"]] == lb.pod_sysctls(["IPv4", "IPv6"])


def test_tolerations_cover_master_control_plane_and_critical_addons():
    tolerations = lb.build_daemonset(article_service())["spec"]["template"]["spec"]["tolerations"]
    assert {(t["key"], t.get("effect")) for t in tolerations} == {
        ("node-role.kubernetes.io/master", "NoSchedule"),
        ("node-role.kubernetes.io/control-plane", "NoSchedule"),
        ("CriticalAddonsOnly", None),
    }


def test_owner_reference_points_at_the_service_in_its_namespace():
    ds = lb.build_daemonset(article_service())
    assert ds["metadata"]["namespace"] == "kube-system"
    assert ds["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "traefik",
                                                  "uid": "5a0c6e0e-8d8f-4f5b-9b0e-1f2a3b4c5d6e"}]


def test_no_owner_reference_without_a_uid():
    service = article_service()
    del service["metadata"]["uid"]
    assert "ownerReferences" not in lb.build_daemonset(service)["metadata"]


def test_node_selector_is_optional():
    assert "nodeSelector" not in lb.build_daemonset(article_service())["spec"]["template"]["spec"]
    ds = lb.build_daemonset(article_service(), node_selector={"svccontroller.k3s.cattle.io/enablelb": "true"})
    assert ds["spec"]["template"]["spec"]["nodeSelector"] == {"svccontroller.k3s.cattle.io/enablelb": "true"}


def test_udp_ports_get_their_own_container():
    service = article_service(ports=[{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}])
    ds = lb.build_daemonset(service)
    assert [(c["name"], c["ports"][0]["protocol"], env(c)["DEST_PROTO"]) for c in containers(ds)] == [
        ("lb-udp-53", "UDP", "UDP"), ("lb-tcp-53", "TCP", "TCP")]


def test_split_refuses_one_port_number_with_two_protocols():
    service = article_service(ports=[{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}])
    with pytest.raises(lb.DualstackError, match="use format dest_ips"):
        lb.build_daemonset(service, fmt="split", image="x")


def test_sctp_is_refused():
    with pytest.raises(lb.DualstackError, match="protocol SCTP"):
        lb.build_daemonset(article_service(ports=[{"port": 3868, "protocol": "SCTP"}]))


def test_source_ranges_follow_the_service_or_open_both_families():
    assert env(containers(lb.build_daemonset(article_service()))[0])["SRC_RANGES"] == "0.0.0.0/0 ::/0"
    limited = article_service(loadBalancerSourceRanges=["192.168.0.0/16", "2003:e9::/32"])
    assert env(containers(lb.build_daemonset(limited))[0])["SRC_RANGES"] == "192.168.0.0/16 2003:e9::/32"


def test_ipv6_primary_keeps_the_services_order():
    service = article_service(ipFamilies=["IPv6", "IPv4"], clusterIPs=[V6, V4])
    assert env(containers(lb.build_daemonset(service))[0])["DEST_IPS"] == "%s %s" % (V6, V4)


def test_not_a_load_balancer_is_refused():
    with pytest.raises(lb.DualstackError, match="spec.type ClusterIP.*LoadBalancer"):
        lb.build_daemonset(article_service(type="ClusterIP"))


def test_require_dual_stack_without_ipv6_names_the_missing_family():
    service = article_service(clusterIPs=[V4], ipFamilies=["IPv4"])
    with pytest.raises(lb.DualstackError, match="RequireDualStack but no IPv6 clusterIP"):
        lb.build_daemonset(service)


def test_single_stack_uses_the_first_cluster_ip_only():
    service = article_service(ipFamilyPolicy="SingleStack", ipFamilies=["IPv6"], clusterIPs=[V6])
    ds = lb.build_daemonset(service, fmt="split", image="x")
    assert env(containers(ds)[0]) == {"SRC_PORT": "80", "DEST_PROTO": "TCP", "DEST_PORT": "80", "DEST_IP6": V6}


def test_prefer_dual_stack_takes_what_was_allocated():
    one = article_service(ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv4"], clusterIPs=[V4])
    assert env(containers(lb.build_daemonset(one))[0])["DEST_IPS"] == V4
    both = article_service(ipFamilyPolicy="PreferDualStack")
    assert env(containers(lb.build_daemonset(both))[0])["DEST_IPS"] == "%s %s" % (V4, V6)


def test_headless_or_unallocated_service_is_refused():
    with pytest.raises(lb.DualstackError, match="no clusterIPs"):
        lb.build_daemonset(article_service(clusterIPs=["None"], clusterIP="None"))
    with pytest.raises(lb.DualstackError, match="no clusterIPs"):
        lb.build_daemonset(article_service(clusterIPs=[], clusterIP=None))


def test_bad_address_names_where_it_is():
    with pytest.raises(lb.DualstackError, match=r"spec.clusterIPs\[1\] holds 10.43.0.999, which"):
        lb.build_daemonset(article_service(clusterIPs=[V4, "10.43.0.999"]))
    with pytest.raises(lb.DualstackError, match=r"characters left out") as caught:
        lb.build_daemonset(article_service(clusterIPs=[V4, "x" * 100_000]))
    assert len(str(caught.value)) < 400


def test_spec_hash_changes_with_the_spec_and_not_with_itself():
    first = lb.build_daemonset(article_service())
    assert lb.spec_hash(first) == first["metadata"]["annotations"][lb.SPEC_HASH_ANNOTATION]
    other = lb.build_daemonset(article_service(), node_selector={"a": "b"})
    assert lb.spec_hash(other) != lb.spec_hash(first)


def test_contains_ignores_server_defaults_but_not_changes():
    desired = lb.build_daemonset(article_service())
    live = copy.deepcopy(desired)
    live["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"
    assert lb.contains(live, desired)
    containers(live)[0]["env"][-1]["value"] = V4
    assert not lb.contains(live, desired)


def test_node_addresses_prefer_external_and_order_primary_family_first():
    nodes = [
        node("b", ("InternalIP", "10.250.0.76"), ("InternalIP", "fd42:1ab:250::76")),
        node("a", ("InternalIP", "10.250.0.75"), ("ExternalIP", "192.0.2.75"), ("InternalIP", "fd42:1ab:250::75"),
             ("Hostname", "a")),
    ]
    assert lb.node_addresses(nodes, ["IPv6", "IPv4"]) == ["fd42:1ab:250::76", "10.250.0.76", "192.0.2.75"]
    assert lb.node_addresses(nodes, ["IPv4"]) == ["10.250.0.76", "192.0.2.75"]


# --- the live path at the client boundary ------------------------------------------------

NODES = [
    node("k3s-1", ("InternalIP", "10.250.0.75"), ("InternalIP", "fd42:1ab:250::75"), labels={"lb": "yes"}),
    node("k3s-2", ("InternalIP", "10.250.0.76"), ("InternalIP", "fd42:1ab:250::76")),
]


def make(cluster, check_mode=False):
    api = KubernetesApi(FakeCoreV1Api(cluster), FakeAppsV1Api(cluster))
    return api, lb.Reconciler(api, check_mode=check_mode, sleep=lambda seconds: None)


def params(**changes):
    base = {"name": "traefik", "namespace": "kube-system", "apply": True, "state": "present",
            "format": "dest_ips", "wait": False, "wait_timeout": 10, "update_status": False}
    base.update(changes)
    return base


def test_create_writes_the_daemonset_once():
    cluster = Cluster(services=[article_service()])
    api, rec = make(cluster)
    result = lb.run(params(), reconciler=rec)
    assert result["changed"] and result["action"] == "create"
    assert [c[0] for c in cluster.writes()] == ["create"]
    stored = cluster.daemonsets[("kube-system", "svclb-traefik")]
    assert lb.contains(stored, result["daemonset"])
    assert result["diff"]["before"] == {}


def test_second_run_is_unchanged_despite_server_defaults():
    cluster = Cluster(services=[article_service()])
    api, rec = make(cluster)
    lb.run(params(), reconciler=rec)
    cluster.calls.clear()
    result = lb.run(params(), reconciler=rec)
    assert not result["changed"] and result["action"] == "none"
    assert cluster.writes() == []


def test_update_replaces_with_the_live_resource_version():
    cluster = Cluster(services=[article_service()])
    api, rec = make(cluster)
    lb.run(params(), reconciler=rec)
    live_version = cluster.daemonsets[("kube-system", "svclb-traefik")]["metadata"]["resourceVersion"]
    cluster.calls.clear()
    result = lb.run(params(node_selector={"lb": "yes"}), reconciler=rec)
    assert result["changed"] and result["action"] == "update"
    (call,) = cluster.writes()
    assert call[0] == "replace" and call[3]["metadata"]["resourceVersion"] == live_version
    stored = cluster.daemonsets[("kube-system", "svclb-traefik")]
    assert stored["spec"]["template"]["spec"]["nodeSelector"] == {"lb": "yes"}
    assert "nodeSelector" not in result["diff"]["before"]["spec"]["template"]["spec"]
    assert result["diff"]["after"]["spec"]["template"]["spec"]["nodeSelector"] == {"lb": "yes"}


def test_a_hand_edit_of_a_managed_field_is_reverted():
    cluster = Cluster(services=[article_service()])
    api, rec = make(cluster)
    lb.run(params(), reconciler=rec)
    stored = cluster.daemonsets[("kube-system", "svclb-traefik")]
    containers(stored)[0]["image"] = "rancher/klipper-lb:v0.2.0"
    cluster.calls.clear()
    result = lb.run(params(), reconciler=rec)
    assert result["action"] == "update"
    assert containers(cluster.daemonsets[("kube-system", "svclb-traefik")])[0]["image"] == lb.DEFAULT_IMAGE


def test_the_service_changing_cluster_ips_updates_the_env():
    cluster = Cluster(services=[article_service()])
    api, rec = make(cluster)
    lb.run(params(), reconciler=rec)
    cluster.services[("kube-system", "traefik")]["spec"]["clusterIPs"] = ["10.43.0.5", "fd45:a71:55a6:1:2:1:0:5"]
    result = lb.run(params(), reconciler=rec)
    assert result["action"] == "update"
    stored = cluster.daemonsets[("kube-system", "svclb-traefik")]
    assert env(containers(stored)[0])["DEST_IPS"] == "10.43.0.5 fd45:a71:55a6:1:2:1:0:5"


def test_check_mode_reports_create_and_writes_nothing():
    cluster = Cluster(services=[article_service()], nodes=NODES)
    api, rec = make(cluster, check_mode=True)
    result = lb.run(params(update_status=True), reconciler=rec)
    assert result["changed"] and result["action"] == "create"
    assert cluster.writes() == [] and cluster.daemonsets == {}
    assert cluster.services[("kube-system", "traefik")]["status"] == {"loadBalancer": {}}
    assert result["load_balancer_ingress"] == ["10.250.0.75", "10.250.0.76", "fd42:1ab:250::75", "fd42:1ab:250::76"]


def test_check_mode_update_and_delete_write_nothing():
    cluster = Cluster(services=[article_service()])
    api, rec = make(cluster)
    lb.run(params(), reconciler=rec)
    cluster.calls.clear()
    api, check = make(cluster, check_mode=True)
    assert lb.run(params(node_selector={"lb": "yes"}), reconciler=check)["action"] == "update"
    assert lb.run(params(state="absent"), reconciler=check)["action"] == "delete"
    assert cluster.writes() == [] and ("kube-system", "svclb-traefik") in cluster.daemonsets


def test_absent_deletes_and_then_is_unchanged():
    cluster = Cluster(services=[article_service()])
    api, rec = make(cluster)
    lb.run(params(), reconciler=rec)
    cluster.calls.clear()
    result = lb.run(params(state="absent", wait=True), reconciler=rec)
    assert result["changed"] and result["action"] == "delete"
    assert [c[0] for c in cluster.writes()] == ["delete"] and cluster.writes()[0][3] == "Background"
    assert cluster.daemonsets == {}
    cluster.calls.clear()
    again = lb.run(params(state="absent"), reconciler=rec)
    assert not again["changed"] and cluster.writes() == []


def test_absent_works_when_the_service_is_already_gone():
    cluster = Cluster(services=[article_service()])
    api, rec = make(cluster)
    lb.run(params(), reconciler=rec)
    del cluster.services[("kube-system", "traefik")]
    cluster.calls.clear()
    result = lb.run(params(state="absent", update_status=True), reconciler=rec)
    assert result["action"] == "delete" and cluster.daemonsets == {}
    assert [c[0] for c in cluster.writes()] == ["delete"]
    assert "status" not in result["diff"]["before"] and "resourceVersion" not in result["diff"]["before"]["metadata"]


def test_a_daemonset_not_made_by_the_module_is_left_alone():
    cluster = Cluster(services=[article_service()])
    api, rec = make(cluster)
    foreign = lb.build_daemonset(article_service())
    del foreign["metadata"]["labels"][lb.MANAGED_BY_LABEL]
    FakeAppsV1Api(cluster).create_namespaced_daemon_set("kube-system", foreign)
    cluster.calls.clear()
    for state in ("present", "absent"):
        with pytest.raises(lb.DualstackError, match="disable k3s servicelb"):
            lb.run(params(state=state), reconciler=rec)
    assert cluster.writes() == []


def test_missing_service_fails_clearly():
    cluster = Cluster(services=[])
    api, rec = make(cluster)
    with pytest.raises(lb.DualstackError, match="Service kube-system/traefik was not found"):
        lb.run(params(), reconciler=rec)


def test_status_write_puts_node_addresses_primary_family_first_and_is_idempotent():
    cluster = Cluster(services=[article_service()], nodes=NODES)
    api, rec = make(cluster)
    result = lb.run(params(update_status=True), reconciler=rec)
    expected = ["10.250.0.75", "10.250.0.76", "fd42:1ab:250::75", "fd42:1ab:250::76"]
    assert result["load_balancer_ingress"] == expected
    patch = [c for c in cluster.writes() if c[0] == "patch_status"]
    assert patch == [("patch_status", "kube-system", "traefik",
                      {"status": {"loadBalancer": {"ingress": [{"ip": a} for a in expected]}}},
                      "application/merge-patch+json")]
    cluster.calls.clear()
    again = lb.run(params(update_status=True), reconciler=rec)
    assert not again["changed"] and cluster.writes() == []


def test_status_write_follows_the_node_selector():
    cluster = Cluster(services=[article_service()], nodes=NODES)
    api, rec = make(cluster)
    result = lb.run(params(update_status=True, node_selector={"lb": "yes"}), reconciler=rec)
    assert result["load_balancer_ingress"] == ["10.250.0.75", "fd42:1ab:250::75"]
    assert ("list_node", "lb=yes") in cluster.calls


def test_status_addresses_override_and_absent_clears_them():
    cluster = Cluster(services=[article_service()], nodes=NODES)
    api, rec = make(cluster)
    lb.run(params(update_status=True, status_addresses=["192.168.0.15", "2003:e9:f712:a22f::15"]), reconciler=rec)
    ingress = cluster.services[("kube-system", "traefik")]["status"]["loadBalancer"]["ingress"]
    assert ingress == [{"ip": "192.168.0.15"}, {"ip": "2003:e9:f712:a22f::15"}]
    lb.run(params(state="absent", update_status=True), reconciler=rec)
    assert cluster.services[("kube-system", "traefik")]["status"]["loadBalancer"]["ingress"] == []


def test_wait_polls_until_the_pods_are_available():
    cluster = Cluster(services=[article_service()], ready_after_reads=3)
    api, rec = make(cluster)
    result = lb.run(params(wait=True), reconciler=rec)
    assert lb.daemonset_ready(result["result"])
    reads = [c for c in cluster.calls if c[0] == "read_daemonset"]
    assert len(reads) == 5  # the existence check, three not-ready polls, the ready one


def test_wait_gives_up_with_the_rollout_state():
    cluster = Cluster(services=[article_service()], ready_after_reads=10 ** 6)
    api = KubernetesApi(FakeCoreV1Api(cluster), FakeAppsV1Api(cluster))
    ticks = iter(range(0, 1000, 5))
    rec = lb.Reconciler(api, sleep=lambda s: None, clock=lambda: next(ticks))
    with pytest.raises(lb.DualstackError, match=r"not ready after wait_timeout=10s \(desired 1, updated 0"):
        lb.run(params(wait=True), reconciler=rec)


def test_render_only_never_needs_the_cluster():
    result = lb.run({"service": article_service(), "apply": False, "state": "present", "format": "dest_ips"})
    assert not result["changed"] and "diff" not in result
    assert [c["name"] for c in containers(result["daemonset"])] == ["lb-tcp-80", "lb-tcp-443", "lb-tcp-9000"]


def test_render_from_a_live_service_reads_but_does_not_write():
    cluster = Cluster(services=[article_service()])
    api, rec = make(cluster)
    result = lb.run(params(apply=False), reconciler=rec)
    assert not result["changed"] and result["daemonset"]["metadata"]["name"] == "svclb-traefik"
    assert cluster.writes() == [] and [c[0] for c in cluster.calls] == ["read_service"]


def test_a_service_dict_cannot_be_applied():
    with pytest.raises(lb.DualstackError, match="pass name and namespace instead of service"):
        lb.run({"service": article_service(), "apply": True, "state": "present"})


def test_api_errors_carry_the_servers_message():
    cluster = Cluster(services=[article_service()])
    api, rec = make(cluster)
    lb.run(params(), reconciler=rec)
    stored = cluster.daemonsets[("kube-system", "svclb-traefik")]
    stored["metadata"]["annotations"][lb.SPEC_HASH_ANNOTATION] = "stale"

    def conflicting(name, namespace, body, _preload_content=True):
        stored["metadata"]["resourceVersion"] = "changed-meanwhile"
        return FakeAppsV1Api.replace_namespaced_daemon_set(api.apps, name, namespace, body)

    api.apps.replace_namespaced_daemon_set = conflicting
    with pytest.raises(lb.DualstackError, match="replacing DaemonSet kube-system/svclb-traefik failed: HTTP 409: "
                                                "the object has been modified"):
        lb.run(params(), reconciler=rec)


@pytest.mark.parametrize("image, words", [
    ("rancher/klipper-lb:v0.3.5", "reads no DEST_IPS and SRC_RANGES"),
    ("docker.io/rancher/klipper-lb:v0.1.0", "reads no DEST_IPS and SRC_RANGES"),
    ("rancher/klipper-lb:v0.9.0", "outside the klipper-lb releases this collection supports, v0.1.0 to v0.4.17"),
    ("rancher/klipper-lb:v0.4.14-rc1", "is a pre-release"),
])
def test_dest_ips_images_that_cannot_read_it_are_refused(image, words):
    with pytest.raises(DualstackError, match=words):
        lb.build_daemonset(article_service(), fmt="dest_ips", image=image)


@pytest.mark.parametrize("image", ["rancher/klipper-lb:v0.4.0", "rancher/klipper-lb:v0.4.17",
                                   "registry.local:5000/rancher/klipper-lb", "rancher/klipper-lb@sha256:" + "0" * 64,
                                   "example/other-lb:v0.1.0"])
def test_dest_ips_images_that_read_it_or_are_not_judged_pass(image):
    ds = lb.build_daemonset(article_service(), fmt="dest_ips", image=image)
    assert {c["image"] for c in ds["spec"]["template"]["spec"]["containers"]} == {image}
