# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import re

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import k3s_config
from ansible_collections.dualstack.kubernetes.plugins.module_utils.k3s_config import DualstackError


def make_plan(nodes=("server", "agent"), primary="ipv4", article=False):
    """A plan shaped like the address_plan role's fact."""
    if article:
        pods = ["10.42.0.0/24", "fd45:a71:55a6:1:2:2::/96"]
        services = ["10.43.0.0/16", "fd45:a71:55a6:1:2:1::/116"]
        mask = {"ipv4": 24, "ipv6": 96}
        capacity = {"ipv4": 1, "ipv6": 1}
    else:
        pods = ["10.42.0.0/16", "fd00:42::/56"]
        services = ["10.43.0.0/16", "fd00:43::/112"]
        mask = {"ipv4": 24, "ipv6": 64}
        capacity = {"ipv4": 256, "ipv6": 256}
    families = ["ipv4", "ipv6"]
    if primary == "ipv6":
        pods, services, families = pods[::-1], services[::-1], families[::-1]
    node_map = {}
    for number, name in enumerate(nodes, start=51):
        entry = {"ipv4": "10.250.0.%d" % number, "ipv6": "fd42:1ab:250::%d" % number}
        entry["node_ip"] = ",".join(entry[f] for f in families)
        node_map[name] = entry
    return {
        "distribution": "k3s", "kubernetes_version": "1.31.2", "primary_family": primary,
        "families": families, "pod_cidrs": pods, "service_cidrs": services,
        "pod_subnet": ",".join(pods), "service_subnet": ",".join(services),
        "node_mask": mask, "node_cidr_allocation": True, "nodes": node_map,
        "node_capacity": capacity, "feature_gates": {}, "warnings": [],
    }


CURRENT = "v1.31.2+k3s1"
ARTICLE = "v1.21.4+k3s1"


class TestVersion:
    def test_reads_release_tags(self):
        assert k3s_config.release_tag("v1.31.2+k3s1") == "v1.31.2+k3s1"
        assert k3s_config.release_tag("1.21.4+k3s2") == "v1.21.4+k3s2"

    @pytest.mark.parametrize("bad, words", [
        ("latest", "is not a k3s release number"),
        ("v1.31", "names a release line"),
        ("stable", "is not a k3s release number"),
        ("", "is not a k3s release number"),
        # A tag without its k3s revision is not guessed at.
        ("1.21.4", "names no k3s revision"),
        ("v1.32.0-rc1+k3s1", "is a pre-release"),
    ])
    def test_refuses_unpinned_versions(self, bad, words):
        with pytest.raises(DualstackError, match=f"^k3s_server_version: .*{words}.*v1\\.[0-9]+\\.[0-9]+\\+k3s1"):
            k3s_config.release_tag(bad)

    @pytest.mark.parametrize("bad", ["v1.20.15+k3s1", "v1.38.0+k3s1"])
    def test_refuses_versions_outside_the_known_range(self, bad):
        with pytest.raises(DualstackError, match="outside the k3s releases this collection supports, "
                                                 "v1.21.0\\+k3s1 to v1.37.x"):
            k3s_config.release_tag(bad)


class TestServerConfig:
    def test_current_calico_config_has_both_families_in_primary_order(self):
        config = k3s_config.server_config(make_plan(), "server", CURRENT)["config"]
        assert config["cluster-cidr"] == "10.42.0.0/16,fd00:42::/56"
        assert config["service-cidr"] == "10.43.0.0/16,fd00:43::/112"
        assert config["node-ip"] == "10.250.0.51,fd42:1ab:250::51"
        assert config["flannel-backend"] == "none"
        assert config["disable-network-policy"] is True
        assert "no-flannel" not in config
        assert config["kube-controller-manager-arg"] == [
            "node-cidr-mask-size-ipv4=24", "node-cidr-mask-size-ipv6=64"]
        assert "kube-apiserver-arg" not in config
        assert config["tls-san"] == ["10.250.0.51", "fd42:1ab:250::51"]

    def test_ipv6_primary_puts_ipv6_first_everywhere(self):
        config = k3s_config.server_config(make_plan(primary="ipv6"), "server", CURRENT)["config"]
        assert config["cluster-cidr"].startswith("fd00:42::/56,")
        assert config["service-cidr"].startswith("fd00:43::/112,")
        assert config["node-ip"] == "fd42:1ab:250::51,10.250.0.51"
        assert config["kube-controller-manager-arg"][0] == "node-cidr-mask-size-ipv6=64"

    def test_article_version_uses_the_legacy_flag_and_feature_gates(self):
        result = k3s_config.server_config(
            make_plan(nodes=("server",), article=True), "server", ARTICLE,
            disable=["servicelb"], feature_gates={"IPv6DualStack": True})
        config = result["config"]
        assert config["no-flannel"] is True
        assert "flannel-backend" not in config
        assert config["disable"] == ["servicelb"]
        assert config["cluster-cidr"] == "10.42.0.0/24,fd45:a71:55a6:1:2:2::/96"
        assert config["service-cidr"] == "10.43.0.0/16,fd45:a71:55a6:1:2:1::/116"
        assert config["kube-controller-manager-arg"] == [
            "node-cidr-mask-size-ipv4=24", "node-cidr-mask-size-ipv6=96",
            "feature-gates=IPv6DualStack=true"]
        for key in ("kube-apiserver-arg", "kubelet-arg", "kube-proxy-arg"):
            assert config[key] == ["feature-gates=IPv6DualStack=true"]
        assert config["node-ip"] == "10.250.0.51,fd42:1ab:250::51"
        assert result["warnings"] == []

    def test_servicelb_left_on_in_an_ipv4_only_release_warns(self):
        result = k3s_config.server_config(make_plan(nodes=("server",)), "server", ARTICLE)
        assert any("ServiceLB forwards IPv4 only" in w for w in result["warnings"])

    def test_feature_gate_is_refused_where_kubernetes_removed_it(self):
        with pytest.raises(DualstackError, match="IPv6DualStack was removed in Kubernetes 1.25"):
            k3s_config.server_config(make_plan(), "server", CURRENT,
                                     feature_gates={"IPv6DualStack": True})

    def test_flannel_gets_dual_stack_options(self):
        config = k3s_config.server_config(make_plan(), "server", CURRENT, cni="flannel")["config"]
        assert config["flannel-backend"] == "vxlan"
        assert config["flannel-ipv6-masq"] is True
        assert "disable-network-policy" not in config

    def test_flannel_is_refused_before_it_carried_ipv6(self):
        with pytest.raises(DualstackError, match="no dual-stack flannel.*k3s_server_cni: calico"):
            k3s_config.server_config(make_plan(), "server", ARTICLE, cni="flannel")

    def test_calico_ipam_only_turns_node_cidrs_off(self):
        plan = make_plan()
        plan["node_cidr_allocation"] = False
        config = k3s_config.server_config(plan, "server", CURRENT)["config"]
        assert config["kube-controller-manager-arg"] == ["allocate-node-cidrs=false"]

    def test_unknown_component_is_named(self):
        with pytest.raises(DualstackError, match="k3s_server_disable has 'traefk'"):
            k3s_config.server_config(make_plan(), "server", CURRENT, disable=["traefk"])

    def test_extra_config_may_not_override_the_plan(self):
        with pytest.raises(DualstackError, match="k3s_server_extra_config sets 'cluster-cidr'"):
            k3s_config.server_config(make_plan(), "server", CURRENT,
                                     extra_config={"cluster-cidr": "10.0.0.0/8"})

    def test_extra_component_args_are_appended(self):
        config = k3s_config.server_config(
            make_plan(), "server", CURRENT,
            extra_config={"kube-controller-manager-arg": ["bind-address=::"], "node-label": ["a=b"]},
        )["config"]
        assert config["kube-controller-manager-arg"][-1] == "bind-address=::"
        assert config["node-label"] == ["a=b"]

    def test_host_missing_from_the_plan_is_named(self):
        with pytest.raises(DualstackError, match="host ghost is not in address_plan.nodes"):
            k3s_config.server_config(make_plan(), "ghost", CURRENT)

    def test_kubeadm_plan_is_refused(self):
        plan = make_plan()
        plan["distribution"] = "kubeadm"
        with pytest.raises(DualstackError, match="address_plan_distribution: k3s"):
            k3s_config.server_config(plan, "server", CURRENT)

    def test_missing_plan_says_to_run_the_preflight(self):
        with pytest.raises(DualstackError, match="run the dualstack.kubernetes.address_plan role"):
            k3s_config.server_config(None, "server", CURRENT)


class TestAgentConfig:
    def test_agent_joins_the_server_on_its_primary_address(self):
        config = k3s_config.agent_config(make_plan(), "agent", server="server",
                                         version=CURRENT)["config"]
        assert config == {"server": "https://10.250.0.51:6443",
                          "node-ip": "10.250.0.52,fd42:1ab:250::52"}

    def test_ipv6_primary_server_url_is_bracketed(self):
        config = k3s_config.agent_config(make_plan(primary="ipv6"), "agent", server="server",
                                         version=CURRENT)["config"]
        assert config["server"] == "https://[fd42:1ab:250::51]:6443"

    def test_agent_may_not_join_itself(self):
        with pytest.raises(DualstackError, match="is this agent itself"):
            k3s_config.agent_config(make_plan(), "agent", server="agent", version=CURRENT)


class TestFiles:
    def test_config_yaml_reads_back_with_a_yaml_parser(self):
        yaml = pytest.importorskip("yaml")
        config = k3s_config.server_config(make_plan(), "server", CURRENT,
                                          disable=["servicelb", "traefik"])["config"]
        text = k3s_config.config_yaml(config)
        assert yaml.safe_load(text) == config
        assert text.startswith("# Managed by")

    def test_config_yaml_keeps_mode_a_string(self):
        text = k3s_config.config_yaml({"write-kubeconfig-mode": "0600"})
        assert 'write-kubeconfig-mode: "0600"' in text

    def test_env_file_carries_the_token(self):
        assert k3s_config.env_file("K10abc::server:s3cr3t").endswith("K3S_TOKEN=K10abc::server:s3cr3t\n")

    @pytest.mark.parametrize("token", ["", None])
    def test_empty_token_is_refused(self, token):
        with pytest.raises(DualstackError, match="k3s_server_token is empty"):
            k3s_config.env_file(token)

    @pytest.mark.parametrize("token", ["", None])
    def test_a_generated_token_leaves_the_file_without_one(self, token):
        text = k3s_config.env_file(token, generated=True)
        assert "K3S_TOKEN=" not in text
        assert all(line.startswith("#") for line in text.splitlines())

    def test_a_given_token_is_written_also_where_k3s_could_generate_one(self):
        assert k3s_config.env_file("s3cr3t", generated=True).endswith("K3S_TOKEN=s3cr3t\n")

    def test_token_with_shell_characters_is_refused_without_echoing_it(self):
        with pytest.raises(DualstackError) as info:
            k3s_config.env_file('se cret"$x', "k3s_agent_token")
        assert "k3s_agent_token" in str(info.value)
        assert "se cret" not in str(info.value)

    def test_kubeconfig_is_pointed_at_the_node(self):
        text = "clusters:\n- cluster:\n    certificate-authority-data: AAA\n    server: https://127.0.0.1:6443\n  name: default\n"
        assert "server: https://10.250.0.51:6443\n" in k3s_config.kubeconfig_for(text, "10.250.0.51")
        assert "server: https://[fd42:1ab:250::51]:6443\n" in k3s_config.kubeconfig_for(
            text, "fd42:1ab:250::51")

    def test_kubeconfig_without_server_line_is_refused(self):
        with pytest.raises(DualstackError, match="no 'server: https://...' line"):
            k3s_config.kubeconfig_for("apiVersion: v1\n", "10.0.0.1")


PLANTED = "Pl4ntedSecretValue7f3a9c"
SECRET_EXTRA = {
    "datastore-endpoint": "postgres://k3s:%s@db:5432/k3s" % PLANTED,
    "etcd-s3-secret-key": PLANTED,
    "kube-apiserver-arg": ["audit-log-maxage=7", "oidc-client-secret=%s" % PLANTED],
    "node-label": ["a=b"],
}


class TestSecrets:
    def test_secret_keys_by_list_and_by_name(self):
        assert k3s_config.secret_keys(SECRET_EXTRA) == ["datastore-endpoint", "etcd-s3-secret-key",
                                                        "kube-apiserver-arg"]
        assert k3s_config.secret_keys({"my-password-file": "/x", "node-label": ["a=b"]}) == ["my-password-file"]
        assert k3s_config.secret_keys({"node-label": ["a=b"], "kubelet-arg": ["max-pods=50"]}) == []
        assert k3s_config.secret_keys(None) == []

    def test_the_derived_config_holds_references_and_the_file_the_values(self):
        yaml = pytest.importorskip("yaml")
        derived = k3s_config.server_config(make_plan(), "server", CURRENT, extra_config=SECRET_EXTRA)
        assert derived["secret"] is True
        assert PLANTED not in json.dumps(derived), "a fact never holds the secret"
        assert derived["config"]["etcd-s3-secret-key"] == "(secret: k3s_server_extra_config.etcd-s3-secret-key)"
        text = k3s_config.config_yaml(derived["config"], secrets=SECRET_EXTRA)
        read = yaml.safe_load(text)
        assert read["datastore-endpoint"] == SECRET_EXTRA["datastore-endpoint"]
        assert read["etcd-s3-secret-key"] == PLANTED
        assert read["kube-apiserver-arg"] == ["audit-log-maxage=7", "oidc-client-secret=%s" % PLANTED]
        assert read["node-label"] == ["a=b"]

    def test_without_secrets_nothing_changes(self):
        derived = k3s_config.agent_config(make_plan(), "agent", server="server", version=CURRENT,
                                          extra_config={"node-label": ["a=b"]})
        assert derived["secret"] is False
        assert derived["config"]["node-label"] == ["a=b"]

    def test_a_reference_without_its_secret_is_refused_without_a_value(self):
        derived = k3s_config.server_config(make_plan(), "server", CURRENT, extra_config=SECRET_EXTRA)
        with pytest.raises(DualstackError, match="refers to the secret k3s_server_extra_config.datastore-endpoint"):
            k3s_config.config_yaml(derived["config"])

    def test_a_secret_that_is_not_a_scalar_is_refused_without_showing_it(self):
        with pytest.raises(DualstackError) as caught:
            k3s_config.server_config(make_plan(), "server", CURRENT,
                                     extra_config={"etcd-s3-access-key": [PLANTED]})
        assert PLANTED not in str(caught.value)
        assert str(caught.value).startswith("k3s_server_extra_config.etcd-s3-access-key: (secret, not shown) "
                                            "is not a scalar")

    def test_an_extra_config_that_is_not_a_mapping_is_refused(self):
        with pytest.raises(DualstackError, match="k3s_agent_extra_config is a list, not a mapping"):
            k3s_config.agent_config(make_plan(), "agent", server="server", version=CURRENT, extra_config=["x"])


class TestUpgradePlans:
    def test_server_plan_first_then_agents_wait_for_it(self):
        server, agent = k3s_config.upgrade_plans("1.31.3+k3s1")
        assert server["apiVersion"] == agent["apiVersion"] == "upgrade.cattle.io/v1"
        assert server["spec"]["version"] == agent["spec"]["version"] == "v1.31.3+k3s1"
        assert server["spec"]["concurrency"] == 1
        assert server["spec"]["nodeSelector"]["matchExpressions"][0]["operator"] == "In"
        assert agent["spec"]["nodeSelector"]["matchExpressions"][0]["operator"] == "DoesNotExist"
        assert agent["spec"]["prepare"]["args"] == ["prepare", server["metadata"]["name"]]
        json.dumps([server, agent])

    def test_url_host(self):
        assert k3s_config.url_host("fd00::1") == "[fd00::1]"
        assert k3s_config.url_host("10.0.0.1") == "10.0.0.1"
        assert re.match(r"^\[", k3s_config.url_host("[fd00::1]"))


class TestKubeletUnsafeSysctls:
    """Where servicelb is off, the svclb pods' sysctls must be allowed on every node."""

    def test_servicelb_off_asks_for_what_the_svclb_pods_set(self):
        plan = make_plan()
        assert k3s_config.svclb_sysctls(plan, ["servicelb"]) == ["net.ipv6.conf.all.forwarding"]
        assert k3s_config.svclb_sysctls(plan, "traefik, servicelb") == ["net.ipv6.conf.all.forwarding"]
        assert k3s_config.svclb_sysctls(plan, ["traefik"]) == []
        assert k3s_config.svclb_sysctls(plan, []) == []

    def test_server_and_agent_write_the_allowance_into_kubelet_arg(self):
        sysctls = ["net.ipv6.conf.all.forwarding"]
        server = k3s_config.server_config(make_plan(nodes=("server",), article=True), "server", ARTICLE,
                                          disable=["servicelb"], feature_gates={"IPv6DualStack": True},
                                          kubelet_unsafe_sysctls=sysctls)["config"]
        assert server["kubelet-arg"] == ["feature-gates=IPv6DualStack=true",
                                         "allowed-unsafe-sysctls=net.ipv6.conf.all.forwarding"]
        assert list(server).index("kube-apiserver-arg") < list(server).index("kubelet-arg") \
            < list(server).index("kube-proxy-arg")
        agent = k3s_config.agent_config(make_plan(), "agent", "server", CURRENT,
                                        kubelet_unsafe_sysctls=sysctls)["config"]
        assert agent["kubelet-arg"] == ["allowed-unsafe-sysctls=net.ipv6.conf.all.forwarding"]
        assert k3s_config.allowed_unsafe_sysctls(agent) == sysctls
        assert "kubelet-arg" not in k3s_config.agent_config(make_plan(), "agent", "server", CURRENT)["config"]

    def test_allowance_read_back_from_a_config(self):
        assert k3s_config.allowed_unsafe_sysctls({}) == []
        assert k3s_config.allowed_unsafe_sysctls({"kubelet-arg": "allowed-unsafe-sysctls=a.b,c.d"}) == ["a.b", "c.d"]
        assert k3s_config.allowed_unsafe_sysctls({"kubelet-arg": [
            "--allowed-unsafe-sysctls=a.b", "v=2", "allowed-unsafe-sysctls=net.ipv6.*"]}) == ["net.ipv6.*"]

    @pytest.mark.parametrize("value, words", [
        ("net.ipv6.conf.all.forwarding", "is not a list"),
        (["net ipv6"], "[net ipv6] holds what is not a sysctl name"),
        (["forwarding"], "[forwarding] holds what is not a sysctl name"),
    ])
    def test_bad_sysctls_name_the_option(self, value, words):
        with pytest.raises(DualstackError, match=re.escape("k3s_server_kubelet_unsafe_sysctls")):
            k3s_config.server_config(make_plan(), "server", CURRENT, kubelet_unsafe_sysctls=value)
        with pytest.raises(DualstackError, match=re.escape(words)):
            k3s_config.server_config(make_plan(), "server", CURRENT, kubelet_unsafe_sysctls=value)

    @pytest.mark.parametrize("disable, sysctls", [
        (["servicelb"], ["net.ipv6.conf.all.forwarding"]),
        ("traefik, servicelb", ["net.ipv6.conf.all.forwarding"]),
        (["servicelb"], []),
        (["traefik"], []),
        ([], []),
    ])
    def test_the_servers_decisions_are_what_its_config_says(self, disable, sysctls):
        decided = k3s_config.server_decisions(disable, sysctls)
        config = k3s_config.server_config(make_plan(), "server", CURRENT, disable=disable,
                                          kubelet_unsafe_sysctls=sysctls)["config"]
        # The file, read back as the traefik role once did, says the same as the decisions.
        assert decided == {"disable": config.get("disable", []),
                           "servicelb_disabled": "servicelb" in config.get("disable", []),
                           "kubelet_unsafe_sysctls": k3s_config.allowed_unsafe_sysctls(config)}
        assert decided["servicelb_disabled"] == ("servicelb" in str(disable))

    @pytest.mark.parametrize("disable, sysctls, words", [
        (["servicelbb"], [], "k3s_server_disable has 'servicelbb', which k3s does not bundle"),
        (["servicelb"], "net.ipv6.conf.all.forwarding", "k3s_server_kubelet_unsafe_sysctls"),
        (["servicelb"], ["forwarding"], "[forwarding] holds what is not a sysctl name"),
    ])
    def test_bad_decisions_name_the_option(self, disable, sysctls, words):
        with pytest.raises(DualstackError, match=re.escape(words)):
            k3s_config.server_decisions(disable, sysctls)

    def test_extra_config_may_not_set_the_allowance_behind_the_option(self):
        with pytest.raises(DualstackError, match="k3s_agent_kubelet_unsafe_sysctls"):
            k3s_config.agent_config(make_plan(), "agent", "server", CURRENT, extra_config={
                "kubelet-arg": ["allowed-unsafe-sysctls+=net.ipv4.ip_forward"]})


# What the address plan adds for several control planes: the endpoint every node reaches the
# API through (both virtual IPs, primary family first) and the servers in inventory order.
def make_ha_plan(servers=("s1", "s2", "s3"), agents=("a1",), primary="ipv4", endpoint=None):
    plan = make_plan(tuple(servers) + tuple(agents), primary=primary)
    vips = ["10.250.0.10", "fd42:1ab:250::10"]
    if primary == "ipv6":
        vips = vips[::-1]
    plan["api_endpoint"] = endpoint if endpoint is not None else {
        "host": vips[0], "port": 6443, "vips": vips,
        "url_host": k3s_config.url_host(vips[0])}
    plan["control_planes"] = list(servers)
    return plan


# config.yaml of one server and one agent as the roles wrote them before the API endpoint
# existed in the plan: without one, not a byte may differ.
SINGLE_SERVER_YAML = (
    '# Managed by dualstack.kubernetes; local edits are overwritten.\nnode-ip: "10.250.0.51,fd42:1ab:250::51"\n'
    'cluster-cidr: "10.42.0.0/16,fd00:42::/56"\nservice-cidr: "10.43.0.0/16,fd00:43::/112"\n'
    'flannel-backend: "none"\ndisable-network-policy: true\nkube-controller-manager-arg:\n'
    '  - "node-cidr-mask-size-ipv4=24"\n  - "node-cidr-mask-size-ipv6=64"\ntls-san:\n  - "10.250.0.51"\n'
    '  - "fd42:1ab:250::51"\nwrite-kubeconfig-mode: "0600"\n')
SINGLE_AGENT_YAML = (
    '# Managed by dualstack.kubernetes; local edits are overwritten.\nserver: "https://10.250.0.51:6443"\n'
    'node-ip: "10.250.0.52,fd42:1ab:250::52"\n')


class TestHighAvailability:
    @pytest.mark.parametrize("extra", [{}, {"api_endpoint": None}, {"api_endpoint": None, "control_planes": ["s1"]}])
    def test_one_server_without_an_endpoint_is_unchanged(self, extra):
        plan = dict(make_plan(("s1", "a1")), **extra)
        server = k3s_config.server_config(plan, "s1", CURRENT)
        agent = k3s_config.agent_config(plan, "a1", "s1", CURRENT)
        assert k3s_config.config_yaml(server["config"]) == SINGLE_SERVER_YAML
        assert k3s_config.config_yaml(agent["config"]) == SINGLE_AGENT_YAML
        assert server["warnings"] == []

    def test_first_server_initialises_etcd_the_others_join_through_the_endpoint(self):
        plan = make_ha_plan()
        configs = {name: k3s_config.server_config(plan, name, CURRENT)["config"] for name in ("s1", "s2", "s3")}
        assert configs["s1"]["cluster-init"] is True and "server" not in configs["s1"]
        for name in ("s2", "s3"):
            assert configs[name]["server"] == "https://10.250.0.10:6443"
            assert "cluster-init" not in configs[name]
        text = k3s_config.config_yaml(configs["s2"])
        assert text.splitlines()[1] == 'server: "https://10.250.0.10:6443"'
        assert k3s_config.config_yaml(configs["s1"]).splitlines()[1] == "cluster-init: true"

    def test_every_server_certificate_names_its_addresses_and_both_vips(self):
        plan = make_ha_plan()
        for number, name in enumerate(("s1", "s2", "s3"), start=51):
            sans = k3s_config.server_config(plan, name, CURRENT)["config"]["tls-san"]
            assert sans == ["10.250.0.%d" % number, "fd42:1ab:250::%d" % number, "10.250.0.10", "fd42:1ab:250::10"]

    def test_ipv6_primary_endpoint_is_bracketed_in_urls_only(self):
        plan = make_ha_plan(primary="ipv6")
        joiner = k3s_config.server_config(plan, "s2", CURRENT)["config"]
        assert joiner["server"] == "https://[fd42:1ab:250::10]:6443"
        assert joiner["tls-san"][2:] == ["fd42:1ab:250::10", "10.250.0.10"]
        agent = k3s_config.agent_config(plan, "a1", "s1", CURRENT)["config"]
        assert agent["server"] == "https://[fd42:1ab:250::10]:6443"

    def test_external_endpoint_is_named_in_the_certificate_and_joined(self):
        endpoint = {"host": "api.cluster.example", "port": 8443, "vips": [], "url_host": "api.cluster.example"}
        plan = make_ha_plan(endpoint=endpoint)
        joiner = k3s_config.server_config(plan, "s3", CURRENT)["config"]
        assert joiner["server"] == "https://api.cluster.example:8443"
        assert joiner["tls-san"] == ["10.250.0.53", "fd42:1ab:250::53", "api.cluster.example"]

    def test_agents_join_through_the_endpoint_not_the_first_server(self):
        plan = make_ha_plan()
        # k3s_agent_server and its port name a server only when there is no endpoint.
        agent = k3s_config.agent_config(plan, "a1", "s1", CURRENT, port=7443)["config"]
        assert agent["server"] == "https://10.250.0.10:6443"
        assert agent["node-ip"] == "10.250.0.54,fd42:1ab:250::54"

    def test_an_even_number_of_servers_is_warned_about(self):
        plan = make_ha_plan(servers=("s1", "s2", "s3", "s4"))
        warnings = k3s_config.server_config(plan, "s2", CURRENT)["warnings"]
        assert len(warnings) == 1
        assert "address_plan.control_planes holds 4 k3s servers, an even number" in warnings[0]
        assert "majority (3)" in warnings[0] and "odd number" in warnings[0]
        assert k3s_config.server_config(make_ha_plan(), "s2", CURRENT)["warnings"] == []

    @pytest.mark.parametrize("version", ["v1.21.4+k3s1", "v1.22.17+k3s1", "v1.23.6+k3s1"])
    def test_releases_before_usable_dual_stack_etcd_are_refused(self, version):
        with pytest.raises(DualstackError) as info:
            k3s_config.server_config(make_ha_plan(), "s2", version)
        message = str(info.value)
        assert message.startswith("k3s_server_version: ")
        assert version.split("+")[0] in message
        assert "v1.23.7+k3s1" in message and "Pin k3s v1.23.7+k3s1 or later" in message

    def test_first_release_with_usable_dual_stack_etcd(self):
        config = k3s_config.server_config(make_ha_plan(), "s1", "v1.23.7+k3s1")["config"]
        assert config["cluster-init"] is True

    def test_cluster_init_belongs_to_the_role_behind_an_endpoint(self):
        with pytest.raises(DualstackError, match="sets 'cluster-init'"):
            k3s_config.server_config(make_ha_plan(), "s2", CURRENT, extra_config={"cluster-init": True})
        # A single server may still choose embedded etcd itself.
        single = k3s_config.server_config(make_plan(("s1",)), "s1", CURRENT, extra_config={"cluster-init": True})
        assert single["config"]["cluster-init"] is True

    def test_a_server_the_plan_does_not_list_is_refused(self):
        plan = make_ha_plan(servers=("s1", "s2"), agents=("s3", "a1"))
        with pytest.raises(DualstackError, match=r"address_plan.control_planes: .* does not hold s3"):
            k3s_config.server_config(plan, "s3", CURRENT)
        with pytest.raises(DualstackError, match="holds s1, which is set up as a k3s agent"):
            k3s_config.agent_config(plan, "s1", "s2", CURRENT)

    @pytest.mark.parametrize("endpoint, words", [
        ("10.0.0.1", "address_plan.api_endpoint: "),
        ({"host": "10.0.0.1", "port": "6443", "vips": [], "url_host": "10.0.0.1"}, "address_plan.api_endpoint.port"),
        ({"host": "10.0.0.1", "port": 6443, "vips": "10.0.0.1", "url_host": "10.0.0.1"}, "address_plan.api_endpoint.vips"),
    ])
    def test_a_malformed_endpoint_is_refused(self, endpoint, words):
        with pytest.raises(DualstackError, match=re.escape(words)):
            k3s_config.server_config(make_ha_plan(endpoint=endpoint), "s1", CURRENT)

    def test_an_endpoint_without_its_servers_is_refused(self):
        plan = make_ha_plan()
        del plan["control_planes"]
        with pytest.raises(DualstackError, match="address_plan.control_planes: .* is empty"):
            k3s_config.server_config(plan, "s1", CURRENT)
