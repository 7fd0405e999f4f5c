# -*- coding: utf-8 -*-
# Copyright: contributors to the dualstack.kubernetes collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The address-plan report, the diagram and how they are written."""

from __future__ import annotations

import copy
import os
import re
import stat
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import plan_report as pr
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils import article_plans

# The kubeadm article's plan, as the address_plan role states it for inventories/kubeadm-article:
# the article's networks with its node networks and Kubernetes 1.18.20.
ARTICLE_INVENTORY = {"kubernetes_version": "1.18.20", "node_cidrs": ["192.168.1.0/24", "2001:db8::/64"]}
KUBEADM_PLAN = article_plans.kubeadm_plan(**ARTICLE_INVENTORY)

# The planner warns of the article's fd00::/108 (only a /112 of it is used). The tests that
# compare the report's Warnings section start from this plan without warnings instead.
QUIET_PLAN = dict(KUBEADM_PLAN, warnings=[])


class TestMarkdown:
    def test_kubeadm_article_networks(self):
        text = pr.markdown(KUBEADM_PLAN)
        assert text.startswith("# Address plan\n")
        for line in [
            "| Network | IPv4 | IPv6 |",
            "| Pods (cluster CIDR) | 10.244.0.0/16 | fd00:1::/48 |",
            "| Services | 10.96.0.0/12 | fd00::/108 |",
            "| Nodes | 192.168.1.0/24 | 2001:db8::/64 |",
            "| Node CIDR mask | /24 | /64 |",
            "| Calico IP pool | 10.244.0.0/16 | fd00:1::/48 |",
            "| Calico block size | /26 | /122 |",
            "| IPv6 encapsulation | - | none |",
            "| Pod CIDRs (kubeadm podSubnet, k3s cluster-cidr) | `10.244.0.0/16,fd00:1::/48` |",
            "| Feature gates | IPv6DualStack=true |",
        ]:
            assert line in text.splitlines(), line

    def test_kubeadm_article_nodes_with_node_ip_and_expected_blocks(self):
        lines = pr.markdown(KUBEADM_PLAN).splitlines()
        assert "| Node | IPv4 | IPv6 | node-ip | IPv4 pod block (expected) | IPv6 pod block (expected) |" in lines
        # 1.18's kubelet takes one node-ip: the primary address.
        assert "| master | 192.168.1.11 | 2001:db8::11 | `192.168.1.11` | 10.244.0.0/24 | fd00:1::/64 |" in lines
        assert "| worker | 192.168.1.12 | 2001:db8::12 | `192.168.1.12` | 10.244.1.0/24 | fd00:1:0:1::/64 |" in lines

    def test_node_ip_pair_from_1_20(self):
        plan = article_plans.kubeadm_plan(kubernetes_version="1.31.2", calico_version="3.30.7",
                                          node_cidrs=ARTICLE_INVENTORY["node_cidrs"])
        lines = pr.markdown(plan).splitlines()
        assert "| master | 192.168.1.11 | 2001:db8::11 | `192.168.1.11,2001:db8::11` | 10.244.0.0/24 | fd00:1::/64 |" in lines

    def test_kubeadm_article_service_addresses_and_capacity(self):
        lines = pr.markdown(KUBEADM_PLAN).splitlines()
        assert "| kubernetes.default (API server) | 10.96.0.1 | fd00::1 |" in lines
        assert "| Cluster DNS | 10.96.0.10 | fd00::a |" in lines
        assert "| Nodes the pod CIDR holds | 256 | 65536 |" in lines
        assert "| Addresses per node block | 256 | 2^64 |" in lines
        assert "| Service addresses | 1048576 | 65536 (of 1048576: the allocator uses at most 65536) |" in lines

    def test_warnings_are_listed(self):
        assert pr.markdown(QUIET_PLAN).rstrip().endswith("## Warnings\n\nNone.")
        plan = dict(QUIET_PLAN, warnings=["fd00::/8 literals: use a random ULA prefix", "a | b"])
        text = pr.markdown(plan)
        assert "- fd00::/8 literals: use a random ULA prefix\n" in text
        assert "- a | b\n" in text

    def test_the_planners_warnings_are_listed(self):
        text = pr.markdown(KUBEADM_PLAN)
        assert KUBEADM_PLAN["warnings"], "the article's fd00::/108 is warned of"
        for warning in KUBEADM_PLAN["warnings"]:
            assert "- %s\n" % warning in text

    def test_ipv6_primary_puts_ipv6_first(self):
        # The article's closing variant: IPv6 first in every list.
        lines = pr.markdown(article_plans.kubeadm_plan(primary="ipv6", **ARTICLE_INVENTORY)).splitlines()
        assert "| Primary family | IPv6 |" in lines
        assert "| Pods (cluster CIDR) | fd00:1::/48 | 10.244.0.0/16 |" in lines
        assert "| master | 2001:db8::11 | 192.168.1.11 | `2001:db8::11` | fd00:1::/64 | 10.244.0.0/24 |" in lines

    def test_without_node_cidr_allocation_there_are_no_blocks(self):
        plan = dict(KUBEADM_PLAN, node_cidr_allocation=False)
        text = pr.markdown(plan)
        assert "(expected)" not in text
        assert "| Node CIDR allocation | off: Calico IPAM alone hands out pod addresses |" in text.splitlines()

    def test_missing_key_is_named(self):
        plan = dict(KUBEADM_PLAN)
        del plan["pod_cidrs"]
        with pytest.raises(pr.DualstackError, match="address_plan.pod_cidrs is missing"):
            pr.markdown(plan)


class TestExpectedBlocks:
    def test_kubeadm_article(self):
        assert pr.expected_node_blocks(KUBEADM_PLAN) == {
            "master": {"ipv4": "10.244.0.0/24", "ipv6": "fd00:1::/64"},
            "worker": {"ipv4": "10.244.1.0/24", "ipv6": "fd00:1:0:1::/64"},
        }

    def test_pod_cidr_that_holds_one_node(self):
        # The k3s article's /96 with node mask 96 has a block for the first node only. The
        # planner refuses such a plan for two nodes, so this one is changed by hand.
        plan = dict(KUBEADM_PLAN, pod_cidrs=["10.42.0.0/16", "fd45:a71:55a6:1:2:2::/96"], node_mask={"ipv4": 24, "ipv6": 96})
        blocks = pr.expected_node_blocks(plan)
        assert blocks["master"]["ipv6"] == "fd45:a71:55a6:1:2:2::/96"
        assert blocks["worker"]["ipv6"] is None
        assert "| worker | 192.168.1.12 | 2001:db8::12 | `192.168.1.12` | 10.42.1.0/24 | none left |" \
            in pr.markdown(plan).splitlines()

    def test_mask_shorter_than_the_pod_cidr_is_refused(self):
        plan = dict(KUBEADM_PLAN, node_mask={"ipv4": 12, "ipv6": 64})
        with pytest.raises(pr.DualstackError, match=r"node_mask.ipv4: 12 does not fit the pod CIDR 10.244.0.0/16"):
            pr.expected_node_blocks(plan)


def svg_texts(svg: str):
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root, [el.text for el in root.iter("{http://www.w3.org/2000/svg}text")]


class TestSvg:
    def test_kubeadm_article_diagram_is_xml_with_every_network_and_node(self):
        root, texts = svg_texts(pr.svg(KUBEADM_PLAN))
        body = "\n".join(texts)
        for value in ["10.244.0.0/16", "fd00:1::/48", "10.96.0.0/12", "fd00::/108", "192.168.1.0/24", "2001:db8::/64",
                      "master", "worker", "192.168.1.11", "2001:db8::11", "192.168.1.12", "2001:db8::12",
                      "10.244.0.0/24", "10.244.1.0/24", "fd00:1::/64", "fd00:1:0:1::/64", "10.96.0.1", "fd00::a"]:
            assert value in body, value
        assert texts.count("pod block (expected)") == 2
        assert "expected, not promised" in body
        assert int(root.get("width")) > 0 and int(root.get("height")) > 0

    def test_many_nodes_wrap_into_rows_inside_the_picture(self):
        plan = copy.deepcopy(KUBEADM_PLAN)
        plan["nodes"] = {"node-%d" % i: {"ipv4": "192.168.1.%d" % (10 + i), "ipv6": "2001:db8::%x" % (16 + i),
                                         "node_ip": "192.168.1.%d,2001:db8::%x" % (10 + i, 16 + i)} for i in range(6)}
        root, texts = svg_texts(pr.svg(plan))
        width, height = float(root.get("width")), float(root.get("height"))
        for rect in root.iter("{http://www.w3.org/2000/svg}rect"):
            if rect.get("width", "").endswith("%"):
                continue
            assert float(rect.get("x")) + float(rect.get("width")) <= width
            assert float(rect.get("y")) + float(rect.get("height")) <= height
        assert [t for t in texts if t in plan["nodes"]] == list(plan["nodes"])

    def test_every_length_is_an_svg_length(self):
        # An attribute such as width="100%%" is well-formed XML that browsers refuse to draw:
        # every length must be a number, optionally with a unit or a percent sign (SVG 1.1, 4.2).
        length = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?(px|em|ex|in|cm|mm|pt|pc|%)?$")
        root = svg_texts(pr.svg(KUBEADM_PLAN))[0]
        for element in root.iter():
            for name in ("x", "y", "x1", "y1", "x2", "y2", "width", "height", "rx", "stroke-width", "font-size"):
                value = element.get(name)
                assert value is None or length.match(value), (element.tag, name, value)

    def test_names_are_escaped(self):
        plan = copy.deepcopy(KUBEADM_PLAN)
        plan["nodes"] = {"a<&>b": plan["nodes"]["master"]}
        texts = svg_texts(pr.svg(plan))[1]
        assert "a<&>b" in texts

    def test_no_allocation_note(self):
        texts = svg_texts(pr.svg(dict(KUBEADM_PLAN, node_cidr_allocation=False)))[1]
        assert "pod block (expected)" not in texts
        assert any("Node CIDR allocation is off" in t for t in texts)


class TestWriteFiles:
    def test_write_then_nothing_to_do(self, tmp_path):
        dest = str(tmp_path / "render")
        files = pr.render(KUBEADM_PLAN)
        first = pr.write_files(dest, files)
        assert first["changed"] is True
        assert sorted(first["written"]) == sorted(os.path.join(dest, n) for n in (pr.MARKDOWN_NAME, pr.SVG_NAME))
        for name, content in files.items():
            path = os.path.join(dest, name)
            with open(path, "rb") as handle:
                assert handle.read() == content
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        second = pr.write_files(dest, pr.render(KUBEADM_PLAN))
        assert second["changed"] is False and second["written"] == [] and second["diff"] == []
        assert sorted(os.listdir(dest)) == [pr.MARKDOWN_NAME, pr.SVG_NAME], "no temporary file is left behind"

    def test_check_mode_reports_without_writing(self, tmp_path):
        dest = str(tmp_path / "render")
        outcome = pr.write_files(dest, pr.render(KUBEADM_PLAN), check_mode=True)
        assert outcome["changed"] is True and len(outcome["written"]) == 2
        assert not os.path.exists(dest)

    def test_only_what_differs_is_written_with_its_diff(self, tmp_path):
        dest = str(tmp_path)
        pr.write_files(dest, pr.render(QUIET_PLAN))
        plan = dict(QUIET_PLAN, warnings=["one warning"])
        check = pr.write_files(dest, pr.render(plan), check_mode=True)
        real = pr.write_files(dest, pr.render(plan))
        assert check["written"] == real["written"] == [os.path.join(dest, pr.MARKDOWN_NAME)]
        [diff] = real["diff"]
        assert "None." in diff["before"] and "- one warning" in diff["after"]
        assert diff["before_header"] == os.path.join(dest, pr.MARKDOWN_NAME)

    def test_mode_drift_is_repaired(self, tmp_path):
        dest = str(tmp_path)
        pr.write_files(dest, pr.render(KUBEADM_PLAN))
        os.chmod(os.path.join(dest, pr.SVG_NAME), 0o600)
        assert pr.write_files(dest, pr.render(KUBEADM_PLAN))["written"] == [os.path.join(dest, pr.SVG_NAME)]
        assert stat.S_IMODE(os.stat(os.path.join(dest, pr.SVG_NAME)).st_mode) == 0o644

    def test_dest_that_is_a_file_is_refused(self, tmp_path):
        target = tmp_path / "file"
        target.write_text("x")
        with pytest.raises(pr.DualstackError, match="is not a directory"):
            pr.write_files(str(target), pr.render(KUBEADM_PLAN))
        assert target.read_text() == "x"

    def test_png_without_the_program_names_the_package(self):
        with pytest.raises(pr.DualstackError, match="librsvg2-bin"):
            pr.svg_to_png(b"<svg/>", program="rsvg-convert-that-is-not-installed")


@pytest.mark.parametrize("mode, label", [("l2", "LoadBalancer pool 192.168.1.240-192.168.1.250"),
                                         ("bgp", "LoadBalancer pool (BGP) 192.168.1.240-192.168.1.250")])
def test_the_loadbalancer_pools_are_in_the_report_and_on_the_diagram(mode: str, label: str) -> None:
    plan = dict(QUIET_PLAN, lb_pools={"ipv4": ["192.168.1.240-192.168.1.250"], "ipv6": ["2001:db8::f0/124", "2001:db8::1:0/120"]},
                lb_mode=mode)
    assert (f"| LoadBalancer pools (MetalLB, {mode}) | 192.168.1.240-192.168.1.250 | 2001:db8::f0/124, 2001:db8::1:0/120 |"
            in pr.markdown(plan))
    texts = [element.text for element in ET.fromstring(pr.svg(plan)).iter("{http://www.w3.org/2000/svg}text")]
    assert any(text and text.endswith(label) for text in texts), texts


def test_a_plan_without_pools_shows_none() -> None:
    assert "LoadBalancer" not in pr.markdown(QUIET_PLAN) and "LoadBalancer" not in pr.svg(QUIET_PLAN)
