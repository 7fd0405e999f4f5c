# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of dualstack.kubernetes.metallb_resources (documented in plugins/modules/metallb_resources.py)."""

from __future__ import annotations

import json
import os
import typing as t

import yaml
from ansible.plugins.action import ActionBase

from ansible_collections.dualstack.kubernetes.plugins.module_utils import metallb
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError
from ansible_collections.dualstack.kubernetes.plugins.module_utils.files import os_error, plan_file

ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = {
    "manifest": {"type": "path", "required": True},
    "version": {"type": "str", "required": True},
    "pools": {"type": "dict", "required": True},
    "families": {"type": "list", "elements": "str", "default": ["ipv4", "ipv6"]},
    "mode": {"type": "str", "default": "l2", "choices": list(metallb.MODES)},
    "namespace": {"type": "str", "default": "metallb-system"},
    "pool_name": {"type": "str", "default": "dualstack"},
    "bgp_peers": {"type": "list", "elements": "raw", "default": []},
    "bgp_my_asn": {"type": "int"},
    "dest": {"type": "path"},
}


def render(args: t.Mapping[str, t.Any]) -> t.Tuple[t.List[t.Dict[str, t.Any]], str, str]:
    """(resources, their YAML, the manifest's release); refused with DualstackError."""
    version = metallb.normal_version(args["version"])
    path = args["manifest"]
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as exc:
        raise os_error(path, exc, "read") from None
    except UnicodeDecodeError:
        raise DualstackError(f"metallb_dualstack_manifest_src: {path} is not UTF-8 text, so not metallb-native.yaml. "
                             f"Give config/manifests/metallb-native.yaml of MetalLB {version}") from None
    try:
        documents = [document for document in yaml.safe_load_all(text) if document]
    except yaml.YAMLError as exc:
        raise DualstackError(f"metallb_dualstack_manifest_src: {path} is not YAML ({str(exc).splitlines()[0]}). "
                             f"Give config/manifests/metallb-native.yaml of MetalLB {version}") from None
    schemas = metallb.check_manifest(documents, text, version, path)
    resources = metallb.render_resources(
        args["pools"], args["families"], mode=args["mode"], namespace=args["namespace"], name=args["pool_name"],
        bgp_peers=args["bgp_peers"], bgp_my_asn=args["bgp_my_asn"])
    metallb.validate(resources, schemas, f"{path} (MetalLB {version})")
    content = "".join("---\n" + yaml.safe_dump(resource, sort_keys=False, default_flow_style=False)
                      for resource in resources)
    return resources, content, version


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    # Everything happens on the controller: the manifest is read and the resources written there.
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        del tmp
        _validation, validated = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        # Plain values: the YAML dumper represents no templated (tagged) string.
        args = json.loads(json.dumps(validated))
        result["changed"] = False
        try:
            resources, content, version = render(args)
            dest = args["dest"]
            if dest:
                dest = os.path.abspath(os.path.expanduser(dest))
                change = plan_file(dest, content, mode=0o644, create_folder=True)
                if change.changed and self._task.diff:
                    result["diff"] = change.diff()
                if change.changed and not self._task.check_mode:
                    change.apply()
                result.update(changed=change.changed, dest=dest)
        except DualstackError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        result.update(resources=resources, version=version)
        return result
