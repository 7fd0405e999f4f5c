# -*- coding: utf-8 -*-
# Copyright: contributors to the dualstack.kubernetes collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify_probes and verify_report filters: what verify.yml calls."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dualstack.kubernetes.plugins.filter.cluster_checks import FilterModule
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils import article_plans

# The kubeadm article's plan on a current release, with its master node only.
PLAN = article_plans.kubeadm_plan(kubernetes_version="1.31.2", nodes=article_plans.kubeadm_params()["nodes"][:1])
NODES = "NAME     INTERNAL-IP\nmaster   192.168.1.11,2001:db8::11\n"


@pytest.fixture(name="filters")
def fixture_filters():
    return FilterModule().filters()


def test_both_filters_are_offered(filters):
    assert sorted(filters) == ["verify_probes", "verify_report"]


def test_probes_give_http_urls(filters):
    probes = filters["verify_probes"](PLAN, nodes=NODES, pods="", service='["10.96.0.20","fd00::14"]', port="8080")
    assert [h["url"] for h in probes["http"]] == ["http://10.96.0.20:8080/", "http://[fd00::14]:8080/"]


def test_report_counts(filters):
    report = filters["verify_report"](PLAN, nodes=NODES, pods="NAME  IPS\np  10.244.0.2,fd00:1::2\n", service=None)
    # No Calico pool of either family and no block for the node were listed.
    assert [(r["check"], r["subject"]) for r in report["results"] if r["status"] == "fail"] == [
        ("Calico IP pools", "IPv4"), ("Calico IP pools", "IPv6"), ("Calico IPAM blocks", "master")]
    assert report["table"].splitlines()[-1] == "%d passed, 3 failed, %d skipped" % (report["passed"], report["skipped"])


def test_unreadable_output_becomes_a_filter_error(filters):
    with pytest.raises(AnsibleFilterError, match="dualstack.kubernetes.verify_report: node listing: no INTERNAL-IP column"):
        filters["verify_report"](PLAN, nodes="NAME   AGE\nmaster   1d\n")


def test_input_that_is_not_a_plan_is_refused(filters):
    with pytest.raises(AnsibleFilterError, match="is str, not the plan mapping: run the dualstack.kubernetes.address_plan role"):
        filters["verify_probes"]("not a plan", nodes=NODES)


def test_probes_from_outside_and_their_verdict(filters):
    services = ('{"kind": "List", "items": [{"kind": "Service", "metadata": {"name": "dualstack-verify", "namespace": "v"},'
                ' "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.20", "fd00::14"], "ports": [{"port": 80, "nodePort": 30080}]}}]}')
    probes = filters["verify_probes"](PLAN, nodes=NODES, pods="", services=services, traefik="")
    assert [p["url"] for p in probes["outside"]] == ["http://192.168.1.11:30080/", "http://[2001:db8::11]:30080/"]
    report = filters["verify_report"](PLAN, nodes=NODES, services=services, traefik="", outside_host="localhost",
                                      outside=[{"item": p, "status": 200} for p in probes["outside"]])
    assert [(r["check"], r["status"]) for r in report["results"] if r["check"].startswith(("NodePort", "Traefik"))] == [
        ("NodePort IPv4", "pass"), ("NodePort IPv6", "pass"), ("Traefik load balancer", "skip")]


def test_a_traefik_listing_that_is_not_json_becomes_a_filter_error(filters):
    with pytest.raises(AnsibleFilterError, match="Service listing: the output is not JSON"):
        filters["verify_report"](PLAN, nodes=NODES, traefik="NAME      TYPE\ntraefik   LoadBalancer\n")
