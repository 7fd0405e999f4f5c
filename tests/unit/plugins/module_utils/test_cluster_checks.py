# -*- coding: utf-8 -*-
# Copyright: contributors to the dualstack.kubernetes collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of verify.yml on the command outputs the two articles printed (fixtures/, each
file names its article section in its first line)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError
from ansible_collections.dualstack.kubernetes.plugins.module_utils import cluster_checks as cc
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils import article_plans

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def fixture(name: str) -> str:
    """A fixture without its first line, which says where in the articles it comes from."""
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        lines = handle.read().splitlines(True)
    assert lines[0].startswith("# "), "%s must start with its source line" % name
    return "".join(lines[1:])


# The kubeadm article's plan, as the address_plan role states it.
KUBEADM_PLAN = article_plans.kubeadm_plan()
# The same cluster on a release whose kubelet takes a node-ip pair (1.20 and later).
CURRENT_PLAN = article_plans.kubeadm_plan(kubernetes_version="1.31.2", calico_version="3.30.7")

# The k3s article's plan as corrected in inventories/k3s-article: a /16 IPv4 cluster CIDR,
# node mask /112 for IPv6, Calico 3.15.1, no feature gate, and the inventory's k3s-server
# node (Service CIDRs as printed in the article).
K3S_PLAN = article_plans.k3s_plan(
    pod_cidrs=["10.42.0.0/16", "fd45:a71:55a6:1:2:2::/96"],
    node_mask_ipv6=112,
    nodes=[{"name": "k3s-server", "ipv4": "192.168.0.15", "ipv6": "fd45:a71:55a6:1::15"}],
    calico_version="3.15.1",
    feature_gates={},
)

# What the verify.yml node listing (custom-columns, every InternalIP joined by commas)
# prints for the article's two nodes once kubelet has node-ip for both families.
DUAL_NODES = """\
NAME     INTERNAL-IP
master   192.168.1.11,2001:db8::11
worker   192.168.1.12,2001:db8::12
"""


def by_subject(results):
    return {r["subject"]: r for r in results}


class TestParseTable:
    def test_wide_node_listing_keeps_cells_with_spaces(self):
        rows = cc.parse_table(fixture("kubeadm_nodes_wide.txt"))
        assert [r["NAME"] for r in rows] == ["master", "worker"]
        assert rows[0]["OS-IMAGE"] == "Ubuntu 18.04.4 LTS"
        assert rows[0]["INTERNAL-IP"] == "192.168.1.11"
        assert rows[1]["ROLES"] == "", "<none> becomes an empty cell"
        assert rows[0]["EXTERNAL-IP"] == ""

    def test_headers_with_spaces_are_one_column(self):
        rows = cc.parse_table(fixture("kubeadm_pods_all_wide.txt"))
        assert len(rows) == 11
        assert "NOMINATED NODE" in rows[0] and "READINESS GATES" in rows[0]
        assert rows[0]["NODE"] == "master"

    def test_a_row_with_an_empty_cell_goes_by_column_position(self):
        text = "NAME     CIDR            AGE\npool-a                   39m\n"
        assert cc.parse_table(text) == [{"NAME": "pool-a", "CIDR": "", "AGE": "39m"}]

    def test_empty_output_has_no_rows(self):
        assert cc.parse_table("") == []
        assert cc.parse_table(None) == []

    def test_indented_first_line_is_refused(self):
        with pytest.raises(cc.DualstackError, match="not a table header"):
            cc.parse_table("   10.0.0.1   x\n")


class TestNodeAddresses:
    def test_kubeadm_article_nodes_fail_on_a_release_that_takes_a_node_ip_pair(self):
        # The article's nodes show their IPv4 InternalIP only: kubelet ran without node-ip.
        results = cc.check_node_addresses(CURRENT_PLAN, fixture("kubeadm_nodes_wide.txt"))
        assert [r["status"] for r in results] == [cc.FAIL, cc.FAIL]
        master = by_subject(results)["master"]
        assert "node-ip is missing the IPv6 address" in master["detail"]
        assert "set node-ip to 192.168.1.11,2001:db8::11" in master["detail"]
        assert "192.168.1.11 only" in master["detail"]
        assert "set node-ip to 192.168.1.12,2001:db8::12" in by_subject(results)["worker"]["detail"]

    def test_kubeadm_article_nodes_on_its_own_release_are_skipped_with_the_reason(self):
        # 1.18's kubelet takes one node-ip, so one InternalIP per node is all the release can show.
        results = cc.check_node_addresses(KUBEADM_PLAN, fixture("kubeadm_nodes_wide.txt"))
        assert [r["status"] for r in results] == [cc.SKIP, cc.SKIP]
        assert "takes one node-ip (a pair from 1.20)" in by_subject(results)["master"]["detail"]

    def test_nodes_with_both_families_pass(self):
        results = cc.check_node_addresses(KUBEADM_PLAN, DUAL_NODES)
        assert by_subject(results) == {
            "master": cc.result("node InternalIPs", "master", cc.PASS, "192.168.1.11, 2001:db8::11"),
            "worker": cc.result("node InternalIPs", "worker", cc.PASS, "192.168.1.12, 2001:db8::12"),
        }

    def test_node_with_other_addresses_than_planned_fails(self):
        text = DUAL_NODES.replace("2001:db8::12", "2001:db8::99")
        worker = by_subject(cc.check_node_addresses(KUBEADM_PLAN, text))["worker"]
        assert worker["status"] == cc.FAIL
        assert "the plan says 192.168.1.12,2001:db8::12; set node-ip to 192.168.1.12" in worker["detail"]
        worker = by_subject(cc.check_node_addresses(CURRENT_PLAN, text))["worker"]
        assert "set node-ip to 192.168.1.12,2001:db8::12" in worker["detail"]

    def test_planned_node_that_never_joined_fails(self):
        text = "\n".join(DUAL_NODES.splitlines()[:2]) + "\n"
        worker = by_subject(cc.check_node_addresses(KUBEADM_PLAN, text))["worker"]
        assert worker["status"] == cc.FAIL
        assert "has not joined" in worker["detail"]

    def test_nodes_are_matched_by_address_when_names_differ(self):
        text = DUAL_NODES.replace("master ", "node-a ").replace("worker ", "node-b ")
        assert cc.match_nodes(KUBEADM_PLAN, cc.parse_node_addresses(text)) == {"master": "node-a", "worker": "node-b"}

    def test_listing_without_internal_ip_column_is_refused(self):
        with pytest.raises(cc.DualstackError, match="no INTERNAL-IP column"):
            cc.parse_node_addresses("NAME   AGE\nmaster 1d\n")


class TestPodAddresses:
    def test_article_pods_have_both_families(self):
        # The custom-columns listing shows status.podIPs[0] and [1] of each httpd pod.
        assert cc.check_pod_addresses(KUBEADM_PLAN, fixture("kubeadm_pods_custom_columns.txt")) == [
            cc.result("pod addresses", "running pods", cc.PASS, "2 pods, each with IPv4 and IPv6")]

    def test_addresses_of_the_wide_listing_are_read(self):
        pods = cc.parse_pod_addresses(fixture("kubeadm_pods_all_wide.txt"))
        coredns = [p for p in pods if p["name"] == "coredns-66bff467f8-55mqb"][0]
        assert coredns == {"namespace": "kube-system", "name": "coredns-66bff467f8-55mqb", "node": "worker",
                           "phase": "Running", "addresses": ["10.244.171.64"]}

    def test_pods_showing_one_family_fail_and_are_named(self):
        # -o wide prints only the first of status.podIPs, hence verify.yml lists them all.
        [row] = cc.check_pod_addresses(KUBEADM_PLAN, fixture("kubeadm_pods_wide.txt"))
        assert row["status"] == cc.FAIL
        assert row["detail"].startswith("2 of 2: httpd-9bdf85554-n2f55 on worker has no IPv6 address (10.244.171.65)")

    def test_pods_that_are_not_running_are_left_out(self):
        text = ("NAMESPACE   NAME   NODE     STATUS      IPS\n"
                "default     a      master   Running     10.244.0.5,fd00:1::5\n"
                "default     b      worker   Pending     <none>\n"
                "default     c      worker   Succeeded   <none>\n")
        assert cc.check_pod_addresses(KUBEADM_PLAN, text)[0]["detail"] == "1 pods, each with IPv4 and IPv6"

    def test_long_lists_of_bad_pods_are_cut(self):
        text = "NAME   IPS\n" + "".join("p%d   10.244.0.%d\n" % (i, i) for i in range(8))
        [row] = cc.check_pod_addresses(KUBEADM_PLAN, text, limit=5)
        assert row["detail"].endswith("and 3 more")

    def test_no_running_pod_fails(self):
        assert cc.check_pod_addresses(KUBEADM_PLAN, "")[0]["status"] == cc.FAIL


class TestCalico:
    def test_k3s_article_has_a_pool_of_each_family(self):
        results = cc.check_ip_pools(K3S_PLAN, fixture("k3s_ippools.txt"))
        assert [(r["subject"], r["status"], r["detail"]) for r in results] == [
            ("IPv4", cc.PASS, "default-ipv4-ippool"), ("IPv6", cc.PASS, "default-ipv6-ippool")]

    def test_missing_ipv6_pool_fails_and_says_why(self):
        text = "\n".join(fixture("k3s_ippools.txt").splitlines()[:2])
        ipv6 = by_subject(cc.check_ip_pools(K3S_PLAN, text))["IPv6"]
        assert ipv6["status"] == cc.FAIL
        assert "IP6=autodetect" in ipv6["detail"]

    def test_pool_with_another_cidr_than_planned_fails(self):
        text = "NAME                  CIDR\ndefault-ipv4-ippool   10.42.0.0/16\ndefault-ipv6-ippool   fd45:a71:55a6:1:2:2::/112\n"
        results = by_subject(cc.check_ip_pools(K3S_PLAN, text))
        assert results["IPv4"]["status"] == cc.PASS
        assert results["IPv6"]["status"] == cc.FAIL
        assert "the plan's pool is fd45:a71:55a6:1:2:2::/96" in results["IPv6"]["detail"]

    def test_kubeadm_article_nodes_hold_blocks_of_both_families(self):
        results = by_subject(cc.check_ipam_blocks(KUBEADM_PLAN, fixture("kubeadm_ipamblocks.txt"), ["master", "worker"]))
        assert results["master"] == cc.result("Calico IPAM blocks", "master", cc.PASS,
                                              "10.244.219.64/26, fd00:1:0:db4d:f2f2:402d:3b99:a180/122")
        assert results["worker"]["status"] == cc.PASS

    def test_node_without_ipv6_block_fails(self):
        text = "\n".join(line for line in fixture("kubeadm_ipamblocks.txt").splitlines() if "ab7e" not in line)
        worker = by_subject(cc.check_ipam_blocks(KUBEADM_PLAN, text, ["master", "worker"]))["worker"]
        assert worker["status"] == cc.FAIL
        assert worker["detail"].startswith("no IPv6 block")

    def test_block_outside_the_pool_fails(self):
        # The article's plan with its IPv6 pods (and so its Calico pool) moved to fd00:2::/48.
        plan = article_plans.kubeadm_plan(pod_cidrs=["10.244.0.0/16", "fd00:2::/48"])
        master = by_subject(cc.check_ipam_blocks(plan, fixture("kubeadm_ipamblocks.txt"), ["master"]))["master"]
        assert "outside the pool fd00:2::/48" in master["detail"]

    def test_without_calico_pool_cidrs_the_pod_cidr_is_the_pool(self):
        # A plan without Calico's pool CIDRs (made here by hand: the planner always names
        # them) falls back to the pod CIDRs.
        plan = dict(KUBEADM_PLAN, pod_cidrs=["10.244.0.0/16", "fd00:2::/48"],
                    calico={k: v for k, v in KUBEADM_PLAN["calico"].items() if not k.endswith("_pool_cidr")})
        master = by_subject(cc.check_ipam_blocks(plan, fixture("kubeadm_ipamblocks.txt"), ["master"]))["master"]
        assert "outside the pool fd00:2::/48" in master["detail"]


class TestRoutes:
    def test_article_routes_are_read(self):
        routes = cc.parse_ip_routes(fixture("kubeadm_master_ip6_route.txt"))
        assert routes[1] == {"type": "unicast", "dst": "fd00:1:0:ab7e:b4b6:dc9b:3ca1:a780/122", "via": "2001:db8::12",
                             "dev": "ens32", "proto": "bird"}
        assert routes[4]["type"] == "blackhole"
        assert routes[2]["dst"] == "fd00:1:0:db4d:f2f2:402d:3b99:a180/128", "a host route without length is a /128"
        assert routes[-1]["dst"] == "default" and routes[-1]["via"] == "2001:db8::1"

    @pytest.mark.parametrize("node, routes, via", [
        ("master", "kubeadm_master_ip6_route.txt", "fd00:1:0:ab7e:b4b6:dc9b:3ca1:a780/122 via 2001:db8::12"),
        ("worker", "kubeadm_worker_ip6_route.txt", "fd00:1:0:db4d:f2f2:402d:3b99:a180/122 via 2001:db8::11"),
    ])
    def test_each_article_node_routes_the_other_nodes_block(self, node, routes, via):
        assert cc.check_ipv6_routes(node, fixture(routes), fixture("kubeadm_ipamblocks.txt")) == cc.result(
            "IPv6 routes to pod blocks", node, cc.PASS, via)

    def test_missing_route_fails(self):
        routes = "\n".join(line for line in fixture("kubeadm_master_ip6_route.txt").splitlines() if "bird" not in line)
        row = cc.check_ipv6_routes("master", routes, fixture("kubeadm_ipamblocks.txt"))
        assert row["status"] == cc.FAIL
        assert "no route to fd00:1:0:ab7e:b4b6:dc9b:3ca1:a780/122 (worker)" in row["detail"]

    def test_a_blackhole_for_another_nodes_block_is_no_route(self):
        # The worker's own blackhole route, seen on the master, would drop the traffic.
        routes = "blackhole fd00:1:0:ab7e:b4b6:dc9b:3ca1:a780/122 dev lo proto bird metric 1024 error -22 pref medium\n"
        assert cc.check_ipv6_routes("master", routes, fixture("kubeadm_ipamblocks.txt"))["status"] == cc.FAIL

    def test_single_node_is_skipped(self):
        blocks = "\n".join(line for line in fixture("kubeadm_ipamblocks.txt").splitlines() if "worker" not in line)
        assert cc.check_ipv6_routes("master", fixture("kubeadm_master_ip6_route.txt"), blocks)["status"] == cc.SKIP

    def test_unreadable_route_is_refused(self):
        with pytest.raises(cc.DualstackError, match="does not start with a destination"):
            cc.parse_ip_routes("Error: ipv6 is disabled\n")


class TestIptables:
    def test_article_nat_table_after_the_service(self):
        chains = cc.parse_iptables_listing(fixture("kubeadm_ip6tables_nat_service.txt"))
        assert len(chains) == 18
        assert chains["KUBE-SERVICES"][0] == {
            "target": "KUBE-MARK-MASQ", "prot": "tcp", "source": "!fd00:1::/48", "destination": "fd00::9bc",
            "extra": "/* default/httpd: cluster IP */ tcp dpt:80"}
        dnat = chains["KUBE-SEP-JYKFFQKKRMMGYAWD"][1]
        assert dnat["target"] == "DNAT" and dnat["extra"].endswith("to:[fd00:1:0:ab7e:b4b6:dc9b:3ca1:a781]:80")
        assert chains["KUBE-PROXY-CANARY"] == []

    def test_article_nodes_masquerade_pod_ipv6_traffic(self):
        assert cc.check_nat_outgoing("master", fixture("kubeadm_ip6tables_nat.txt"))["status"] == cc.PASS

    def test_without_nat_outgoing_the_row_is_informational(self):
        text = fixture("kubeadm_ip6tables_nat.txt").split("Chain cali-nat-outgoing", maxsplit=1)[0]
        assert cc.check_nat_outgoing("master", text)["status"] == cc.SKIP

    def test_ipv4_listing_opt_column_is_skipped(self):
        text = ("Chain cali-nat-outgoing (1 references)\ntarget     prot opt source               destination\n"
                "MASQUERADE  all  --  0.0.0.0/0            0.0.0.0/0            /* cali:x */\n")
        rule = cc.parse_iptables_listing(text)["cali-nat-outgoing"][0]
        assert (rule["source"], rule["destination"]) == ("0.0.0.0/0", "0.0.0.0/0")

    def test_rule_before_any_chain_is_refused(self):
        with pytest.raises(cc.DualstackError, match="before any 'Chain' line"):
            cc.parse_iptables_listing("MASQUERADE  all  ::/0  ::/0\n")


class TestPingAndService:
    @pytest.mark.parametrize("name", ["kubeadm_ping6_pod_to_pod.txt", "kubeadm_ping6_node_to_pod.txt", "kubeadm_ping6_pod_to_node.txt"])
    def test_iputils_summary(self, name):
        assert cc.parse_ping(fixture(name)) == {"transmitted": 4, "received": 4}

    def test_busybox_replies_without_summary_are_counted(self):
        assert cc.parse_ping(fixture("k3s_ping_ipv6_outside.txt")) == {"transmitted": -1, "received": 2}

    def test_busybox_summary(self):
        text = "--- fd00:1::5 ping statistics ---\n3 packets transmitted, 0 packets received, 100% packet loss\n"
        assert cc.parse_ping(text) == {"transmitted": 3, "received": 0}

    def test_traefik_cluster_ips_of_the_k3s_article(self):
        ips = cc.parse_cluster_ips(fixture("k3s_traefik_cluster_ips.txt"))
        assert ips == ["10.43.206.211", "fd45:a71:55a6:1:2:1:0:db1"]
        assert cc.check_service(K3S_PLAN, "kube-system/traefik", ips) == cc.result(
            "Service clusterIPs", "kube-system/traefik", cc.PASS, "10.43.206.211, fd45:a71:55a6:1:2:1:0:db1")

    def test_kubeadm_article_service_has_one_family_only(self):
        # spec.ipFamily: IPv6 of Kubernetes 1.18 gave the httpd Service one clusterIP.
        rows = {r["NAME"]: r for r in cc.parse_table(fixture("kubeadm_services_wide.txt"))}
        row = cc.check_service(KUBEADM_PLAN, "httpd", cc.split_addresses(rows["httpd"]["CLUSTER-IP"]))
        assert row["status"] == cc.FAIL
        assert row["detail"].startswith("clusterIPs fd00::9bc: no IPv4 address")

    def test_cluster_ip_outside_the_service_cidr_fails(self):
        row = cc.check_service(K3S_PLAN, "x", ["10.44.0.1", "fd45:a71:55a6:1:2:1:0:db1"])
        assert "10.44.0.1 outside the Service CIDRs" in row["detail"]

    def test_broken_json_is_refused(self):
        with pytest.raises(cc.DualstackError, match="not a JSON list"):
            cc.parse_cluster_ips('["10.43.206.211",')

    def test_http_answers(self):
        answers = [
            {"item": {"address": "10.43.206.211", "url": "http://10.43.206.211:80/"}, "status": 200},
            {"item": {"address": "fd45:a71:55a6:1:2:1:0:db1", "url": "http://[fd45:a71:55a6:1:2:1:0:db1]:80/"}, "status": -1,
             "msg": "Status code was -1 and not [200]: Request failed: <urlopen error timed out>"},
        ]
        rows = cc.check_http(answers)
        assert rows[0] == cc.result("Service answers", "IPv4 10.43.206.211", cc.PASS, "HTTP 200")
        assert rows[1]["status"] == cc.FAIL and "timed out" in rows[1]["detail"]


TEST_PODS = """\
NAMESPACE          NAME                     NODE     STATUS    IPS
dualstack-verify   dualstack-verify-w8d2k   worker   Running   10.244.171.65,fd00:1:0:ab7e:b4b6:dc9b:3ca1:a781
dualstack-verify   dualstack-verify-z7q4x   master   Running   10.244.219.66,fd00:1:0:db4d:f2f2:402d:3b99:a182
"""


class TestProbes:
    def test_pods_ping_the_next_node_and_nodes_ping_a_pod_elsewhere(self):
        probes = cc.verify_probes(KUBEADM_PLAN, DUAL_NODES, TEST_PODS, outside="2001:4860:4860::8888",
                                  service='["10.96.12.7","fd00::9bc"]')
        pod_to_pod = [p for p in probes["pod_pings"] if p["check"] == "pod to pod IPv6"]
        assert [(p["pod"], p["target"]) for p in pod_to_pod] == [
            ("dualstack-verify-z7q4x", "fd00:1:0:ab7e:b4b6:dc9b:3ca1:a781"),
            ("dualstack-verify-w8d2k", "fd00:1:0:db4d:f2f2:402d:3b99:a182")]
        assert [p["target"] for p in probes["node_pings"]["master"]] == ["fd00:1:0:ab7e:b4b6:dc9b:3ca1:a781", "2001:4860:4860::8888"]
        assert probes["node_pings"]["worker"][0]["target_label"] == "dualstack-verify-z7q4x on master"
        assert [p["node"] for p in probes["pod_pings"] if p["check"] == "pod to outside IPv6"] == ["master", "worker"]
        assert probes["http"] == [{"address": "10.96.12.7", "url": "http://10.96.12.7:80/"},
                                  {"address": "fd00::9bc", "url": "http://[fd00::9bc]:80/"}]

    def test_single_node_has_no_cross_node_probes(self):
        one = "\n".join(TEST_PODS.splitlines()[:2])
        probes = cc.verify_probes(KUBEADM_PLAN, DUAL_NODES, one)
        # No pod to pod; the one pod pings every node address (its own node too, having no other).
        assert [(p["check"], p["target"]) for p in probes["pod_pings"]] == [
            ("pod to node IPv4", "192.168.1.11"), ("pod to node IPv6", "2001:db8::11"),
            ("pod to node IPv4", "192.168.1.12"), ("pod to node IPv6", "2001:db8::12")]
        assert probes["node_pings"]["master"][0]["target_label"] == "dualstack-verify-w8d2k on worker"
        assert probes["node_pings"]["worker"] == []
        assert probes["http"] == []

    def test_pod_to_outside_is_skipped_where_the_node_cannot_reach_it(self):
        ok = fixture("kubeadm_ping6_pod_to_node.txt")
        lost = "3 packets transmitted, 0 received, 100% packet loss, time 2030ms\n"
        answers = [
            {"item": {"check": "pod to outside IPv6", "source": "p1 on master", "node": "master", "target": "2001:4860:4860::8888"},
             "stdout": lost, "rc": 1},
            {"item": {"check": "pod to outside IPv6", "source": "p2 on worker", "node": "worker", "target": "2001:4860:4860::8888"},
             "stdout": lost, "rc": 1},
            {"item": {"check": "node to outside IPv6", "source": "master", "node": "master", "target": "2001:4860:4860::8888"},
             "stdout": ok, "rc": 0},
            {"item": {"check": "node to outside IPv6", "source": "worker", "node": "worker", "target": "2001:4860:4860::8888"},
             "stdout": "", "stderr": "ping: connect: Network is unreachable", "rc": 2},
        ]
        rows = {(r["check"], r["subject"]): r for r in cc.check_pings(answers)}
        assert rows[("pod to outside IPv6", "p1 on master")]["status"] == cc.FAIL
        assert rows[("pod to outside IPv6", "p2 on worker")]["status"] == cc.SKIP
        assert rows[("node to outside IPv6", "master")]["status"] == cc.PASS
        worker = rows[("node to outside IPv6", "worker")]
        assert worker["status"] == cc.SKIP and "Network is unreachable" in worker["detail"]


def service(name, cluster_ips, node_port=0, ip_family=None, kind="NodePort", namespace="dualstack-verify",
            ports=None, ingress=(), external_ips=()):
    """A Service as the API server returns it (kubectl get -o json)."""
    spec = {"type": kind, "clusterIP": cluster_ips[0] if cluster_ips else None,
            "ports": ports or [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http", "nodePort": node_port}]}
    if ip_family:
        # Kubernetes 1.18/1.19: the alpha field, and no clusterIPs.
        spec["ipFamily"] = ip_family
    else:
        spec.update({"clusterIPs": cluster_ips, "ipFamilyPolicy": "RequireDualStack",
                     "ipFamilies": ["IPv6" if ":" in ip else "IPv4" for ip in cluster_ips]})
    if external_ips:
        spec["externalIPs"] = list(external_ips)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec,
            "status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"} for ip in ingress]} if ingress else {}}}


def services_json(*items):
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(items), "metadata": {"resourceVersion": ""}})


# The kubeadm article's Service (NodePort 31837, clusterIP fd00::9bc), and its IPv4 twin.
LEGACY_V6 = service("dualstack-verify-ipv6", ["fd00::9bc"], node_port=31837, ip_family="IPv6")
LEGACY_V4 = service("dualstack-verify-ipv4", ["10.96.140.21"], node_port=30412, ip_family="IPv4")
TRAEFIK_PORTS = [{"name": "web", "port": 80, "protocol": "TCP", "targetPort": "web", "nodePort": 30080},
                 {"name": "websecure", "port": 443, "protocol": "TCP", "targetPort": "websecure", "nodePort": 30443}]
TRAEFIK = service("traefik", ["10.96.34.2", "fd00::1:5"], kind="LoadBalancer", namespace="kube-system", ports=TRAEFIK_PORTS,
                  ingress=["192.168.1.11", "2001:db8::11"])


class TestServiceListing:
    def test_dual_stack_node_port_service(self):
        (svc,) = cc.parse_services(services_json(service("dualstack-verify", ["10.96.12.7", "fd00::9bc"], node_port=31837)))
        assert svc["cluster_ips"] == ["10.96.12.7", "fd00::9bc"] and svc["ip_family"] == "" and svc["type"] == "NodePort"
        assert svc["ports"] == [{"name": "http", "port": 80, "node_port": 31837}]

    def test_the_1_18_form_has_one_cluster_ip_and_its_family(self):
        (svc,) = cc.parse_services(json.dumps(LEGACY_V6))
        assert (svc["cluster_ips"], svc["ip_family"]) == (["fd00::9bc"], "IPv6")

    def test_ignore_not_found_prints_nothing(self):
        assert cc.parse_services("") == [] and cc.traefik_probes("") == []

    def test_output_that_is_not_json_is_refused(self):
        with pytest.raises(cc.DualstackError, match="Service listing: the output is not JSON"):
            cc.parse_services("NAME   TYPE\ntraefik   LoadBalancer\n")


class TestLegacyServices:
    def test_one_service_per_family_each_with_a_cluster_ip_of_its_family(self):
        rows = cc.check_legacy_services(KUBEADM_PLAN, services_json(LEGACY_V4, LEGACY_V6))
        assert [(r["subject"], r["status"], r["detail"]) for r in rows] == [
            ("dualstack-verify/dualstack-verify-ipv4", cc.PASS, "spec.ipFamily IPv4, clusterIP 10.96.140.21"),
            ("dualstack-verify/dualstack-verify-ipv6", cc.PASS, "spec.ipFamily IPv6, clusterIP fd00::9bc")]

    def test_ipv6_service_given_an_ipv4_cluster_ip_fails_with_the_fix(self):
        wrong = service("dualstack-verify-ipv6", ["10.96.0.77"], node_port=31837, ip_family="IPv6")
        rows = by_subject(cc.check_legacy_services(KUBEADM_PLAN, services_json(LEGACY_V4, wrong)))
        assert rows["dualstack-verify/dualstack-verify-ipv4"]["status"] == cc.PASS
        bad = rows["dualstack-verify/dualstack-verify-ipv6"]
        assert bad["status"] == cc.FAIL and "spec.ipFamily IPv6 but clusterIP 10.96.0.77" in bad["detail"]
        assert "--service-cluster-ip-range" in bad["detail"]

    def test_missing_family_service_fails(self):
        rows = by_subject(cc.check_legacy_services(KUBEADM_PLAN, services_json(LEGACY_V4)))
        assert rows["IPv6"]["status"] == cc.FAIL and "no test Service with spec.ipFamily IPv6" in rows["IPv6"]["detail"]

    def test_cluster_ip_outside_the_service_cidr_fails(self):
        far = service("dualstack-verify-ipv6", ["fd99::9bc"], ip_family="IPv6")
        rows = by_subject(cc.check_legacy_services(KUBEADM_PLAN, services_json(LEGACY_V4, far)))
        assert "outside the Service CIDRs" in rows["dualstack-verify/dualstack-verify-ipv6"]["detail"]


class TestPodToNode:
    def test_a_pod_on_another_node_pings_every_node_address_of_each_family(self):
        probes = [p for p in cc.verify_probes(CURRENT_PLAN, DUAL_NODES, TEST_PODS)["pod_pings"] if p["check"].startswith("pod to node")]
        assert [(p["check"], p["node"], p["target"]) for p in probes] == [
            ("pod to node IPv4", "worker", "192.168.1.11"), ("pod to node IPv6", "worker", "2001:db8::11"),
            ("pod to node IPv4", "master", "192.168.1.12"), ("pod to node IPv6", "master", "2001:db8::12")]

    def test_one_family_failing(self):
        pong = fixture("kubeadm_ping6_pod_to_node.txt")
        probes = [p for p in cc.verify_probes(CURRENT_PLAN, DUAL_NODES, TEST_PODS)["pod_pings"] if p["check"].startswith("pod to node")]
        answers = [{"item": p, "stdout": pong, "rc": 0} if p["check"].endswith("IPv4") else
                   {"item": p, "stdout": "3 packets transmitted, 0 packets received, 100% packet loss\n", "rc": 1} for p in probes]
        rows = cc.check_pings(answers)
        assert [r["status"] for r in rows] == [cc.PASS, cc.FAIL, cc.PASS, cc.FAIL]
        assert rows[1]["detail"] == "node master 2001:db8::11 answered 0 of 3"

    def test_a_node_of_1_18_is_pinged_on_its_planned_ipv6_address(self):
        probes = cc.verify_probes(KUBEADM_PLAN, fixture("kubeadm_nodes_wide.txt"), TEST_PODS)["pod_pings"]
        assert ("pod to node IPv6", "2001:db8::12") in [(p["check"], p["target"]) for p in probes]


class TestNodePorts:
    def test_every_node_of_each_family_on_the_dual_stack_service(self):
        services = services_json(service("dualstack-verify", ["10.96.12.7", "fd00::9bc"], node_port=31837))
        probes = cc.verify_probes(CURRENT_PLAN, DUAL_NODES, TEST_PODS, services=services)["outside"]
        assert [p["url"] for p in probes] == ["http://192.168.1.11:31837/", "http://192.168.1.12:31837/",
                                              "http://[2001:db8::11]:31837/", "http://[2001:db8::12]:31837/"]

    def test_the_1_18_form_uses_each_family_services_node_port(self):
        probes = cc.nodeport_probes(KUBEADM_PLAN, fixture("kubeadm_nodes_wide.txt"), services_json(LEGACY_V4, LEGACY_V6))
        assert [p["url"] for p in probes] == ["http://192.168.1.11:30412/", "http://192.168.1.12:30412/",
                                              "http://[2001:db8::11]:31837/", "http://[2001:db8::12]:31837/"]

    def test_one_family_failing(self):
        services = services_json(service("dualstack-verify", ["10.96.12.7", "fd00::9bc"], node_port=31837))
        probes = cc.nodeport_probes(CURRENT_PLAN, DUAL_NODES, services)
        answers = [{"item": p, "status": 200} if p["check"] == "NodePort IPv4" else
                   {"item": p, "status": -1, "msg": "Status code was -1 and not [200]: Request failed: <urlopen error [Errno 111] "
                    "Connection refused>"} for p in probes]
        rows = cc.check_nodeports(CURRENT_PLAN, services, answers, "localhost")
        assert [(r["check"], r["status"]) for r in rows] == [("NodePort IPv4", cc.PASS)] * 2 + [("NodePort IPv6", cc.FAIL)] * 2
        assert "Connection refused" in rows[2]["detail"] and "nodePortAddresses" in rows[2]["detail"]

    def test_a_cluster_ip_service_fails_and_nothing_outside_skips(self):
        services = services_json(service("dualstack-verify", ["10.96.12.7", "fd00::9bc"], kind="ClusterIP"))
        assert [r["status"] for r in cc.check_nodeports(CURRENT_PLAN, services, [], "localhost")] == [cc.FAIL, cc.FAIL]
        with_port = services_json(service("dualstack-verify", ["10.96.12.7", "fd00::9bc"], node_port=31837))
        rows = cc.check_nodeports(CURRENT_PLAN, with_port, [], "")
        assert [r["status"] for r in rows] == [cc.SKIP, cc.SKIP] and "dualstack_verify_outside_host is empty" in rows[0]["detail"]


class TestTraefik:
    def test_404_from_traefik_on_both_families_counts_as_reached(self):
        probes = cc.traefik_probes(services_json(TRAEFIK))
        answers = [{"item": p, "status": 404, "msg": "HTTP Error 404: Not Found"} for p in probes]
        rows = cc.check_traefik(CURRENT_PLAN, "kube-system/traefik", services_json(TRAEFIK), answers, "localhost")
        assert [r["status"] for r in rows] == [cc.PASS] * 4
        assert rows[2]["detail"] == "HTTP 404 from outside the cluster"

    def test_a_load_balancer_without_an_ipv6_address_fails(self):
        v4_only = service("traefik", ["10.96.34.2"], kind="LoadBalancer", namespace="kube-system", ports=TRAEFIK_PORTS,
                          ingress=["192.168.1.11"])
        rows = cc.check_traefik(CURRENT_PLAN, "kube-system/traefik", json.dumps(v4_only), [], "localhost")
        assert [(r["subject"], r["status"]) for r in rows] == [("kube-system/traefik IPv4", cc.PASS), ("kube-system/traefik IPv6", cc.FAIL)]
        assert "RequireDualStack" in rows[1]["detail"]

    def test_one_family_not_answering_fails(self):
        probes = cc.traefik_probes(services_json(TRAEFIK))
        answers = [{"item": probes[0], "status": 404}, {"item": probes[1], "status": -1, "msg": "Request failed: timed out"}]
        rows = cc.check_traefik(CURRENT_PLAN, "kube-system/traefik", services_json(TRAEFIK), answers, "localhost")
        assert [r["status"] for r in rows[2:]] == [cc.PASS, cc.FAIL] and "timed out" in rows[3]["detail"]

    def test_the_k3s_articles_external_ips_are_its_load_balancer_addresses(self):
        article = service("traefik", ["10.43.206.211", "fd45:a71:55a6:1:2:1:0:db1"], kind="LoadBalancer", namespace="kube-system",
                          ports=TRAEFIK_PORTS, external_ips=["192.168.0.15", "2003:e9:f712:a22f:a61f:72ff:fe56:1e9e"])
        assert [p["url"] for p in cc.traefik_probes(json.dumps(article))] == [
            "http://192.168.0.15:80/", "http://[2003:e9:f712:a22f:a61f:72ff:fe56:1e9e]:80/"]

    def test_no_traefik_or_no_load_balancer_is_skipped_with_the_reason(self):
        (none,) = cc.check_traefik(CURRENT_PLAN, "kube-system/traefik", "", [], "localhost")
        assert none["status"] == cc.SKIP and "runs no Traefik" in none["detail"]
        cluster_ip = service("traefik", ["10.96.34.2"], kind="ClusterIP", namespace="kube-system", ports=TRAEFIK_PORTS)
        (plain,) = cc.check_traefik(CURRENT_PLAN, "kube-system/traefik", json.dumps(cluster_ip), [], "localhost")
        assert plain["status"] == cc.SKIP and "not LoadBalancer" in plain["detail"]
        assert cc.traefik_probes(json.dumps(cluster_ip)) == []


class TestReport:
    def test_article_cluster_with_node_ip_set(self):
        pong = fixture("kubeadm_ping6_pod_to_pod.txt")
        probes = cc.verify_probes(KUBEADM_PLAN, DUAL_NODES, TEST_PODS, service='["10.96.12.7","fd00::9bc"]')
        report = cc.verify_report(
            KUBEADM_PLAN,
            nodes=DUAL_NODES,
            pods=fixture("kubeadm_pods_custom_columns.txt"),
            ippools="NAME                  CIDR\ndefault-ipv4-ippool   10.244.0.0/16\ndefault-ipv6-ippool   fd00:1::/48\n",
            ipamblocks=fixture("kubeadm_ipamblocks.txt"),
            service={"name": "dualstack-verify/dualstack-verify", "cluster_ips": '["10.96.12.7","fd00::9bc"]'},
            http=[{"item": h, "status": 200} for h in probes["http"]],
            node_reports={
                "master": {"routes": fixture("kubeadm_master_ip6_route.txt"), "nat": fixture("kubeadm_ip6tables_nat.txt"),
                           "pings": [{"item": p, "stdout": pong, "rc": 0} for p in probes["node_pings"]["master"]]},
                "worker": {"routes": fixture("kubeadm_worker_ip6_route.txt"), "nat": fixture("kubeadm_ip6tables_nat.txt"),
                           "pings": [{"item": p, "stdout": pong, "rc": 0} for p in probes["node_pings"]["worker"]]},
            },
            pod_pings=[{"item": p, "stdout": pong, "rc": 0} for p in probes["pod_pings"]],
        )
        assert (report["passed"], report["failed"], report["skipped"]) == (22, 0, 0)
        lines = report["table"].splitlines()
        assert lines[0].split() == ["CHECK", "SUBJECT", "RESULT", "DETAIL"]
        assert lines[-1] == "22 passed, 0 failed, 0 skipped"
        checks = {r["check"] for r in report["results"]}
        assert checks == {"node InternalIPs", "pod addresses", "Calico IP pools", "Calico IPAM blocks", "IPv6 routes to pod blocks",
                          "IPv6 NAT outgoing", "Service clusterIPs", "Service answers", "pod to pod IPv6", "node to pod IPv6",
                          "pod to node IPv4", "pod to node IPv6"}

    def test_a_current_cluster_from_outside_in_both_families(self):
        services = services_json(service("dualstack-verify", ["10.96.12.7", "fd00::9bc"], node_port=31837))
        traefik = services_json(TRAEFIK)
        probes = cc.verify_probes(CURRENT_PLAN, DUAL_NODES, TEST_PODS, services=services, traefik=traefik)
        answers = [{"item": p, "status": 404 if p["check"].startswith("Traefik") else 200} for p in probes["outside"]]
        report = cc.verify_report(CURRENT_PLAN, nodes=DUAL_NODES, services=services, traefik=traefik, outside=answers,
                                  outside_host="localhost", service={"name": "s", "cluster_ips": '["10.96.12.7","fd00::9bc"]'})
        rows = [(r["check"], r["subject"], r["status"]) for r in report["results"] if r["check"].startswith(("NodePort", "Traefik"))]
        assert rows == [
            ("NodePort IPv4", "master 192.168.1.11:31837", cc.PASS), ("NodePort IPv4", "worker 192.168.1.12:31837", cc.PASS),
            ("NodePort IPv6", "master 2001:db8::11:31837", cc.PASS), ("NodePort IPv6", "worker 2001:db8::12:31837", cc.PASS),
            ("Traefik load balancer", "kube-system/traefik IPv4", cc.PASS), ("Traefik load balancer", "kube-system/traefik IPv6", cc.PASS),
            ("Traefik web entry point", "IPv4 192.168.1.11:80", cc.PASS), ("Traefik web entry point", "IPv6 2001:db8::11:80", cc.PASS)]

    def test_the_1_18_service_form_is_checked_instead_of_skipped(self):
        services = services_json(LEGACY_V4, LEGACY_V6)
        report = cc.verify_report(KUBEADM_PLAN, nodes=fixture("kubeadm_nodes_wide.txt"), services=services, traefik="")
        rows = {(r["check"], r["subject"]): r["status"] for r in report["results"]}
        assert rows[("Service clusterIPs (spec.ipFamily)", "dualstack-verify/dualstack-verify-ipv6")] == cc.PASS
        assert rows[("Service clusterIPs (spec.ipFamily)", "dualstack-verify/dualstack-verify-ipv4")] == cc.PASS
        assert ("Service clusterIPs", "test Service") not in rows
        assert rows[("Traefik load balancer", "kube-system/traefik")] == cc.SKIP
        assert rows[("NodePort IPv6", "every node")] == cc.SKIP

    def test_article_as_printed_on_its_release_skips_what_1_18_cannot_show(self):
        report = cc.verify_report(KUBEADM_PLAN, nodes=fixture("kubeadm_nodes_wide.txt"), pods=fixture("kubeadm_pods_custom_columns.txt"),
                                  ippools=fixture("k3s_ippools.txt"), ipamblocks=fixture("kubeadm_ipamblocks.txt"))
        assert report["failed"] == 0, report["table"]
        # One node-ip per kubelet, and no dual-stack Services: the rows say so instead of failing.
        assert [r["status"] for r in report["results"] if r["check"] == "node InternalIPs"] == [cc.SKIP, cc.SKIP]
        assert [r["status"] for r in report["results"] if r["check"] == "Service clusterIPs"] == [cc.SKIP]

    def test_article_nodes_fail_on_node_ip_on_a_current_release(self):
        report = cc.verify_report(CURRENT_PLAN, nodes=fixture("kubeadm_nodes_wide.txt"), pods=fixture("kubeadm_pods_custom_columns.txt"),
                                  ippools=fixture("k3s_ippools.txt"), ipamblocks=fixture("kubeadm_ipamblocks.txt"))
        failed = [line for line in report["table"].splitlines() if " FAIL " in line]
        assert report["failed"] == 2 and len(failed) == 2 and all("node-ip is missing" in line for line in failed)

    def test_table_columns_line_up(self):
        table = cc.format_table([cc.result("a", "long subject", cc.PASS, "x"), cc.result("longer check", "s", cc.FAIL, "y z")])
        lines = table.splitlines()
        assert lines[1] == "a             long subject  PASS    x"
        assert lines[2] == "longer check  s             FAIL    y z"
        assert lines[3] == "1 passed, 1 failed, 0 skipped"

    def test_plan_with_unknown_family_is_refused(self):
        plan = dict(KUBEADM_PLAN, families=["ipv4", "ipx"])
        with pytest.raises(cc.DualstackError, match="address_plan.families"):
            cc.check_pod_addresses(plan, fixture("kubeadm_pods_custom_columns.txt"))

    def test_what_is_not_a_plan_is_refused_by_the_loader(self):
        with pytest.raises(DualstackError, match="address_plan lacks families: run the dualstack"):
            cc.verify_report({"distribution": "kubeadm", "primary_family": "ipv4", "nodes": {}}, nodes=DUAL_NODES)


def _lb_plan() -> dict:
    return dict(CURRENT_PLAN, lb_pools={"ipv4": ["192.0.2.240-192.0.2.250"], "ipv6": ["2001:db8:0:1::f0/124"]})


def _lb_service(*ingress: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [{
        "metadata": {"name": "dualstack-verify-lb", "namespace": "dualstack-verify"},
        "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.20", "fd00::20"], "ports": []},
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ingress]}}}]})


@pytest.mark.parametrize("ingress, expected", [
    (("192.0.2.240", "2001:db8:0:1::f3"), ["pass", "pass"]),
    (("2001:db8:0:1::f3",), ["fail", "pass"]),
    (("192.0.2.240", "192.0.2.241", "2001:db8:0:1::f3"), ["fail", "pass"]),
    (("192.0.2.251", "2001:db8:0:1::f3"), ["fail", "pass"]),
])
def test_the_load_balancer_service_has_one_address_of_each_family_from_the_pools(ingress, expected) -> None:
    plan = dict(_lb_plan())
    results = cc.check_loadbalancer(plan, "dualstack-verify/dualstack-verify-lb", _lb_service(*ingress))
    assert [r["status"] for r in results] == expected
    assert [r["subject"] for r in results] == ["dualstack-verify/dualstack-verify-lb IPv4", "dualstack-verify/dualstack-verify-lb IPv6"]
    assert all("MetalLB" in r["detail"] or "outside the plan's pools" in r["detail"] for r in results if r["status"] == "fail")


def test_the_load_balancer_rows_come_only_with_a_listing() -> None:
    plan = dict(_lb_plan())
    assert not [r for r in cc.verify_report(plan)["results"] if r["check"] == "LoadBalancer addresses"]
    rows = [r for r in cc.verify_report(plan, loadbalancer="")["results"] if r["check"] == "LoadBalancer addresses"]
    assert [r["status"] for r in rows] == ["fail"] and "was read back" in rows[0]["detail"]
