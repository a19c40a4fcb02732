"""Action plugin for hyperv.backup.vss_access_control: validate, read the node's VssAccessControl key in one
round trip (none with the facts the play gathered), plan on the controller, write (or resolve) in at most one
more, shape the result (plugins/plugin_utils/_vss_access_control.py)."""
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hyperv.backup.plugins.modules.vss_access_control import DOCUMENTATION
from ansible_collections.hyperv.backup.plugins.plugin_utils import _vss_access_control
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_action import (
    facts_or_gather, facts_spec, plain_message, report_failures, validate_arguments)
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError

NAME = "vss_access_control"
FACTS_MODULE = "hyperv.backup.host_facts"
MODULE = f"hyperv.backup.{NAME}"


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = validate_arguments(self, NAME, facts_spec(DOCUMENTATION))
        try:
            _vss_access_control.check_options(args)
        except PlanError as err:
            raise AnsibleActionFail(plain_message(f"{NAME}: {err}")) from None

        facts, warnings, failure = facts_or_gather(self, NAME, args, ["vss_access_control"], task_vars)
        if failure:
            result.update(failed=True, changed=False, msg=failure)
            return result
        if not isinstance(facts, dict):
            raise AnsibleActionFail(f"{NAME}: {FACTS_MODULE} returned no facts")
        try:
            plan = _vss_access_control.plan(facts, args)
        except PlanError as err:
            raise AnsibleActionFail(plain_message(f"{NAME}: {err}")) from None

        applied = None
        if _vss_access_control.needs_host(plan, self._task.check_mode):
            applied = self._execute_module(module_name=MODULE, task_vars=task_vars,
                                           module_args=_vss_access_control.module_args(plan, args))
            warnings.extend(applied.get("warnings") or [])

        final = _vss_access_control.merge(plan, applied)
        warnings.extend(final["warnings"])
        result["changed"] = final["changed"]
        result.update(node=plan["node"], key=plan["key"], state=plan["state"], accounts=final["accounts"],
                      counts=final["counts"], values=final["values"])
        if warnings:
            result["warnings"] = list(dict.fromkeys(warnings))
        if self._task.diff:
            result["diff"] = final["diff"]
        failed = [entry for entry in final["accounts"] if entry["status"] == "failed"]
        report_failures(result, NAME, applied, failed, len(final["accounts"]), "account", where=f" on {plan['node']}")
        return result
