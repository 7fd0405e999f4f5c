# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every inventory that gets the collection's svclb DaemonSet lets the kubelet of every node
allow exactly the sysctls the DaemonSet's pods set, and the k3s double of the inventory's
release, started with that node's config.yaml, admits the pods (its kubelet refuses them
without the allowance, as the real one does: SysctlForbidden).

The k3s configuration comes from the roles' own expressions: the set_fact tasks that derive
it are taken from roles/k3s_server and roles/k3s_agent and run with those roles' defaults
against each example inventory and Molecule scenario (a scenario without k3s, such as
traefik's, gets the configuration its k3s_server options make, which is also what the
traefik_dualstack role decides by).
"""
from __future__ import annotations

import ipaddress
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".build" / "collections"))

from ansible_collections.dualstack.kubernetes.plugins.module_utils import k3s_config, klipper_lb  # noqa: E402

DERIVE = {"server": "Derive this server's k3s configuration from the plan",
          "agent": "Derive this agent's k3s configuration from the plan"}
# Those that disable ServiceLB (the k3s article's v1.21.4, whose ServiceLB served one family);
# the others keep k3s's own ServiceLB, so their nodes must allow nothing more.
GET_THE_DAEMONSET = {"inventories/k3s-article", "molecule/k3s-article", "molecule/traefik"}


def example_inventories():
    found = []
    for folder in sorted((REPO / "inventories").iterdir()):
        settings = yaml.safe_load((folder / "group_vars" / "all.yml").read_text())
        if settings.get("address_plan_distribution") == "k3s":
            found.append(pytest.param("inventory", folder, id="inventories/" + folder.name))
    return found


def molecule_scenarios():
    found = []
    for folder in sorted((REPO / "molecule").iterdir()):
        scenario = folder / "molecule.yml"
        if not scenario.exists():
            continue
        inventory = (yaml.safe_load(scenario.read_text()).get("provisioner") or {}).get("inventory") or {}
        if ((inventory.get("group_vars") or {}).get("all") or {}).get("address_plan_distribution") == "k3s":
            found.append(pytest.param("molecule", folder, id="molecule/" + folder.name))
    return found


def molecule_inventory(folder: pathlib.Path) -> dict:
    """The scenario's inventory as Molecule writes it: its platforms in their groups (a
    platform without groups is a k3s server, where traefik_dualstack runs), its vars."""
    scenario = yaml.safe_load((folder / "molecule.yml").read_text())
    inventory = scenario["provisioner"]["inventory"]
    groups: dict = {"k3s_servers": {"hosts": {}}, "k3s_agents": {"hosts": {}}}
    variables = dict((inventory.get("group_vars") or {}).get("all") or {})
    for platform in scenario["platforms"]:
        if not platform.get("groups"):
            # In the scenario itself such a host is in no group, so its plan lists no control
            # planes: each is a server of its own, not members of one cluster.
            variables.setdefault("address_plan_control_plane_hosts", [])
        for group in platform.get("groups") or ["k3s_servers"]:
            groups[group]["hosts"][platform["name"]] = dict((inventory.get("host_vars") or {}).get(platform["name"]) or {})
    return {"all": {"vars": variables, "children": groups}}


def role_task(role: str, name: str) -> dict:
    # The derivation sits in the role's check tasks, which site.yml's plan stage runs first.
    tasks = yaml.safe_load((REPO / "roles" / role / "tasks" / "check.yml").read_text())
    matches = [task for task in tasks if task.get("name") == name]
    assert len(matches) == 1, "roles/%s/tasks/check.yml has no single task %r" % (role, name)
    return matches[0]


def render(tmp: pathlib.Path, inventory_source: str) -> pathlib.Path:
    """Run the roles' derivations on every node; return the folder of their outputs."""
    out = tmp / "out"
    roles = tmp / "roles"
    for kind in ("server", "agent"):
        role = roles / ("render_k3s_" + kind)
        (role / "defaults").mkdir(parents=True)
        (role / "tasks").mkdir(parents=True)
        shutil.copy(REPO / "roles" / ("k3s_" + kind) / "defaults" / "main.yml", role / "defaults" / "main.yml")
        config_var = "__k3s_%s_config" % kind
        tasks = [role_task("k3s_" + kind, DERIVE[kind]), {
            "name": "Keep the config.yaml the role would write",
            "ansible.builtin.copy": {
                "content": "{{ %s.config | dualstack.kubernetes.k3s_config_yaml('dualstack.kubernetes.k3s_%s') }}"
                           % (config_var, kind),
                "dest": "%s/{{ inventory_hostname }}/config.yaml" % out, "mode": "0600"}}]
        (role / "tasks" / "main.yml").write_text(yaml.safe_dump(tasks, sort_keys=False))
    play = [{
        "hosts": "k3s_servers:k3s_agents", "gather_facts": False, "connection": "local",
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}", "ansible_connection": "local"},
        "tasks": [
            {"ansible.builtin.file": {"path": "%s/{{ inventory_hostname }}" % out, "state": "directory",
                                      "mode": "0700"}},
            {"ansible.builtin.set_fact": {"__cluster_hosts": "{{ address_plan_node_hosts | default("
                                          "(groups['k3s_servers'] | default([])) + (groups['k3s_agents'] | default([]))) }}"}},
            {"ansible.builtin.include_role": {"name": "dualstack.kubernetes.address_plan"},
             "vars": {"address_plan_node_hosts": "{{ __cluster_hosts }}"}},
            {"ansible.builtin.include_role": {"name": "render_k3s_server"},
             "when": "inventory_hostname in groups['k3s_servers']"},
            {"ansible.builtin.include_role": {"name": "render_k3s_agent"},
             "when": "inventory_hostname in groups['k3s_agents'] | default([])"},
            {"ansible.builtin.copy": {
                "content": "{{ {'version': address_plan.k3s_version, 'families': address_plan.families,"
                           " 'service_cidrs': address_plan.service_subnet.split(','),"
                           " 'load_balancer': traefik_dualstack_load_balancer | default('auto'),"
                           " 'policy': traefik_dualstack_ip_family_policy | default('RequireDualStack'),"
                           " 'ip_families': traefik_dualstack_ip_families | default([]),"
                           " 'service': traefik_dualstack_svclb_service | default({}),"
                           " 'role': 'server' if inventory_hostname in groups['k3s_servers'] else 'agent'}"
                           " | to_json }}",
                "dest": "%s/{{ inventory_hostname }}/facts.json" % out, "mode": "0600"}},
        ]}]
    (tmp / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(roles))
    proc = subprocess.run(["ansible-playbook", "-i", inventory_source, str(tmp / "play.yml")],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return out


def traefik_service(facts: dict, families: list) -> dict:
    """The Traefik Service the DaemonSet is built from: the inventory's, else one with the
    first address of each family's service CIDR, as the API server would allocate."""
    if facts["service"]:
        return facts["service"]
    cidrs = {("IPv6" if ":" in cidr else "IPv4"): cidr for cidr in facts["service_cidrs"]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "traefik", "namespace": "kube-system"},
            "spec": {"type": "LoadBalancer", "ipFamilies": families,
                     "ipFamilyPolicy": facts["policy"],
                     "clusterIPs": [str(next(ipaddress.ip_network(cidrs[f]).hosts())) for f in families],
                     "ports": [{"name": "web", "port": 80, "protocol": "TCP"},
                               {"name": "websecure", "port": 443, "protocol": "TCP"}]}}


def k3s_double(tmp: pathlib.Path, version: str) -> pathlib.Path:
    path = tmp / ("k3s-" + version)
    if not path.exists():
        subprocess.run([sys.executable, str(REPO / "tests" / "doubles" / "k3s" / "build.py"), version, str(path)],
                       check=True, capture_output=True)
    return path


def admit(double: pathlib.Path, role: str, manifest: pathlib.Path, config: pathlib.Path):
    env = dict(os.environ, K3S_TOKEN="lab-token")
    return subprocess.run([sys.executable, str(double), "double-admit", role, str(manifest), "--config", str(config)],
                          capture_output=True, text=True, env=env, check=False)


@pytest.mark.parametrize("kind, folder", example_inventories() + molecule_scenarios())
def test_nodes_allow_exactly_what_the_svclb_pods_set(tmp_path, kind, folder):
    from ansible_collections.dualstack.kubernetes.plugins.module_utils import traefik_dualstack as td

    if kind == "inventory":
        source = str(folder / "hosts.yml")
        # group_vars beside the hosts file are read from there.
    else:
        source = str(tmp_path / "inventory.json")
        (tmp_path / "inventory.json").write_text(json.dumps(molecule_inventory(folder)))
    out = render(tmp_path, source)
    nodes = {}
    for node in sorted(p.name for p in out.iterdir()):
        facts = json.loads((out / node / "facts.json").read_text())
        nodes[node] = (facts, out / node / "config.yaml")
    assert any(facts["role"] == "server" for facts, config in nodes.values()), "no k3s server in %s" % folder
    facts, server_config = next((f, c) for f, c in nodes.values() if f["role"] == "server")
    disable = yaml.safe_load(server_config.read_text()).get("disable") or []
    disabled = "servicelb" in (disable.split(",") if isinstance(disable, str) else disable)
    families = td.ip_families(facts["ip_families"] or facts["families"], facts["policy"])
    uses_daemonset = td.choose_load_balancer(facts["version"], facts["load_balancer"], disabled) == "klipper_dualstack_lb"
    assert uses_daemonset == ("%s/%s" % (folder.parent.name, folder.name) in GET_THE_DAEMONSET)
    daemonset = klipper_lb.build_daemonset(traefik_service(facts, families)) if uses_daemonset else None
    manifest = tmp_path / "svclb.json"
    manifest.write_text(json.dumps(daemonset or {"kind": "List", "items": []}))
    double = k3s_double(tmp_path, facts["version"])
    pod_sysctls = [] if daemonset is None else [
        s["name"] for s in (daemonset["spec"]["template"]["spec"].get("securityContext") or {}).get("sysctls", [])]
    for node, (node_facts, config) in nodes.items():
        allowed = k3s_config.allowed_unsafe_sysctls(yaml.safe_load(config.read_text()))
        if daemonset is None:
            # k3s's own ServiceLB runs and k3s allows its sysctls itself: nothing is widened.
            assert allowed == [], node
            continue
        assert sorted(allowed) == sorted(pod_sysctls), node
        result = admit(double, node_facts["role"], manifest, config)
        assert result.returncode == 0, (node, result.stderr)
        if pod_sysctls:
            # The same node without the allowance: the double's kubelet refuses the pods.
            bare = config.with_name("bare.yaml")
            data = yaml.safe_load(config.read_text())
            data["kubelet-arg"] = [a for a in data.get("kubelet-arg") or [] if "allowed-unsafe-sysctls" not in a]
            bare.write_text(k3s_config.config_yaml({k: v for k, v in data.items() if v != []}))
            refused = admit(double, node_facts["role"], manifest, bare)
            assert refused.returncode == 1 and "SysctlForbidden" in refused.stderr, (node, refused.stderr)


def test_an_agent_whose_kubelet_refuses_the_svclb_pods_stops_the_plan(tmp_path):
    """The plan stage judges every agent's kubelet allowance, not the server's alone: an agent
    that allows nothing would refuse the svclb pods the DaemonSet puts on it."""
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventories" / "sample-k3s", inventory)
    with (inventory / "group_vars" / "all.yml").open("a") as group_vars:
        group_vars.write("k3s_server_disable: [servicelb]\ntraefik_dualstack_load_balancer: klipper_dualstack_lb\n")
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    agent = sorted(hosts["k3s_agents"]["hosts"])[0]
    hosts["k3s_agents"]["hosts"][agent]["k3s_agent_kubelet_unsafe_sysctls"] = []
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    shared = pathlib.Path(os.environ.get("DUALSTACK_SHARED") or REPO.parent / "shared") / "manifests" / "calico"
    calico = (["-e", "calico_dualstack_manifest_src=%s/calico-v{{ address_plan_calico_version }}.yaml" % shared]
              if shared.is_dir() else ["-e", "calico_dualstack_manifest_unavailable=skip"])
    out = tmp_path / "out"
    result = subprocess.run(["ansible-playbook", "-i", str(inventory), "playbooks/plan.yml",
                             "-e", "dualstack_render_dir=%s" % out, "-e", "ansible_python_interpreter=%s" % sys.executable,
                             *calico], cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode != 0, result.stdout[-3000:]
    # Only the agent that was changed: the other keeps its default, which follows k3s_server_disable.
    assert ("k3s_agent_kubelet_unsafe_sysctls lets the kubelet of %s allow none; the kubelet refuses" % agent
            in result.stdout), result.stdout[-3000:]
    assert "SysctlForbidden" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert not (out / "k3s").exists()
