"""Action plugin for hyperv.backup.vm_folder_access: validate, read the node in one round trip (none when the
view or the facts given already hold what the plan needs), plan on the controller, apply in at most one more,
shape the result (plugins/plugin_utils/_folder_access.py)."""
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hyperv.backup.plugins.modules.vm_folder_access import DOCUMENTATION
from ansible_collections.hyperv.backup.plugins.plugin_utils import _folder_access
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_action import (
    facts_spec, given_facts, host_message, plain_message, report_failures, validate_arguments)
from ansible_collections.hyperv.backup.plugins.plugin_utils._windows_path import normalize
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError

NAME = "vm_folder_access"
FACTS_MODULE = "hyperv.backup.host_facts"
MODULE = f"hyperv.backup.{NAME}"
VIEW_KEYS = ("cluster", "nodes", "vms")


def _fail(err):
    raise AnsibleActionFail(plain_message(f"{NAME}: {err}")) from None


def _check_view(view):
    if not isinstance(view, dict) or any(key not in view for key in VIEW_KEYS):
        raise PlanError(f"cluster_view: expected the output of the hyperv.backup.cluster_view filter (a dict with "
                        f"{', '.join(VIEW_KEYS)}), got {describe_type(view)}")


def _missing_acls(paths, acls):
    """The folders of ``paths`` whose ACL is not among ``acls`` (host_facts ``acls`` entries)."""
    known = {normalize(acl["Path"]) for acl in acls if isinstance(acl, dict) and acl.get("Path")}
    return [path for path in paths if normalize(path) not in known]


def _needs(args):
    """The host_facts subsets the plan needs from one node's facts."""
    return ["cluster", "vms", "vhd_set_acls"] if args["discover"] else ["cluster", "vms"]


def _targets(args, view=None, node_facts=None):
    return _folder_access.resolve_targets(
        view=view, node_facts=node_facts, path=args.get("path"), vm_ids=args.get("vm_ids"),
        discover=args["discover"], allow_unknown_vm_ids=args["allow_unknown_vm_ids"], purge_stale=args["purge_stale"])


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = validate_arguments(self, NAME, facts_spec(DOCUMENTATION))
        view = args.get("cluster_view")
        targets = None
        try:
            _folder_access.check_options(args)
            if view is not None:
                if args.get("facts") is not None:
                    raise PlanError("give cluster_view or facts, not both: the view already holds every node's facts")
                _check_view(view)
                targets = _targets(args, view=view)
        except PlanError as err:
            _fail(err)
        given = given_facts(NAME, args, _needs(args), task_vars) if view is None else None

        # At most one round trip reads what the plan needs: with a view, the target folders' ACLs it does not
        # hold yet (none when its nodes read them with the vhd_set_acls subset); with the facts given, nothing;
        # otherwise this node's VMs and the cluster as it sees it, with the ACL of `path` or of every VHD Set folder.
        if targets is not None:
            gather = {"gather_subset": [],
                      "acl_paths": _missing_acls(_folder_access.acl_paths(targets), _folder_access.acls_from(view))}
        elif given is not None:
            if not args["discover"] and _missing_acls([args["path"]], given.get("acls") or []):
                _fail(f"facts: they hold no ACL of '{args['path']}'; gather it with hyperv.backup.host_facts "
                      f"acl_paths: ['{args['path']}']")
            gather = {"gather_subset": [], "acl_paths": []}
        elif args["discover"]:
            gather = {"gather_subset": ["cluster", "vms", "vhd_set_acls"], "acl_paths": []}
        else:
            gather = {"gather_subset": ["cluster", "vms"], "acl_paths": [args["path"]]}
        warnings = []
        facts = given
        if gather["gather_subset"] or gather["acl_paths"]:
            gathered = self._execute_module(module_name=FACTS_MODULE, module_args=gather, task_vars=task_vars)
            if gathered.get("failed"):
                result.update(failed=True, changed=False,
                              msg=f"{NAME}: reading the host failed: {host_message(gathered)}")
                return result
            warnings.extend(gathered.get("warnings") or [])
            facts = (gathered.get("ansible_facts") or {}).get("hyperv_backup")
            if not isinstance(facts, dict):
                raise AnsibleActionFail(f"{NAME}: {FACTS_MODULE} returned no facts")

        try:
            if targets is None:
                targets = _targets(args, node_facts=facts)
            acls = list((facts or {}).get("acls") or [])
            if view is not None:  # what the view's nodes read, then what was read now (newer) wins
                acls = _folder_access.acls_from(view) + acls
                acls = list({normalize(acl["Path"]): acl for acl in acls}.values())
            plan = _folder_access.plan(targets, acls)
        except PlanError as err:
            if warnings:  # a VHD Set folder the host could not read says why with its warning
                _fail(f"{err} ({'; '.join(warnings)})")
            _fail(err)

        applied = None
        if plan["operations"] and not self._task.check_mode:
            applied = self._execute_module(module_name=MODULE, module_args=_folder_access.module_args(plan, args),
                                           task_vars=task_vars)
            warnings.extend(applied.get("warnings") or [])

        final = _folder_access.merge(plan, applied)
        result["changed"] = final.pop("changed")
        warnings.extend(final.pop("warnings"))
        result.update(final)
        if warnings:
            result["warnings"] = list(dict.fromkeys(warnings))
        if self._task.diff:
            result["diff"] = _folder_access.diff(final["folders"])
        failed = [folder for folder in final["folders"] if folder["status"] == "failed"]
        report_failures(result, NAME, applied, failed, len(final["folders"]), "folder", key="path")
        return result
