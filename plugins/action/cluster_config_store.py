"""Action plugin for hyperv.backup.cluster_config_store: judge on the controller, one round trip to read the
node's cluster (none with the facts the play gathered), at most one to set ConfigStoreRootPath."""
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hyperv.backup.plugins.modules.cluster_config_store import DOCUMENTATION
from ansible_collections.hyperv.backup.plugins.plugin_utils import _cluster_config_store as planner
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_action import (
    FACTS_MODULE,
    facts_or_gather,
    facts_spec,
    plain_message,
    validate_arguments,
)
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError

NAME = "cluster_config_store"


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = validate_arguments(self, NAME, facts_spec(DOCUMENTATION))
        try:
            planner.check_options(args)
        except PlanError as err:
            raise AnsibleActionFail(plain_message(f"{NAME}: {err}")) from None

        # The value is cluster-wide: the facts of any node of the cluster will do.
        facts, warnings, failure = facts_or_gather(self, NAME, args, ["cluster"], task_vars, check_host=False)
        if failure:
            result.update(failed=True, changed=False, msg=failure)
            return result
        if facts is None or "cluster" not in facts:
            raise AnsibleActionFail(f"{NAME}: {FACTS_MODULE} returned no cluster facts")
        try:
            the_plan = planner.plan(facts, args)
        except PlanError as err:
            result.update(failed=True, changed=False, msg=plain_message(f"{NAME}: {err}"))
            if warnings:
                result["warnings"] = warnings
            return result

        applied = None
        if the_plan["operation"] is not None and not self._task.check_mode:
            applied = self._execute_module(module_name=f"hyperv.backup.{NAME}", module_args=the_plan["operation"],
                                           task_vars=task_vars)
            warnings.extend(applied.get("warnings") or [])

        final = planner.merge(the_plan, applied)
        warnings.extend(f"{NAME}: {message}" for message in final.pop("warnings"))
        message = final.pop("msg", None)
        result.update(final)
        if warnings:
            result["warnings"] = warnings
        if self._task.diff:
            result["diff"] = planner.diff(final)
        if final["status"] == "failed":
            result["failed"] = True
            result["msg"] = f"{NAME}: setting ConfigStoreRootPath on the host failed: {plain_message(message)}"
        return result
