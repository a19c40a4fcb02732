"""The flow every per-VM capability's action plugin follows: validate, gather, plan, apply, shape.

A subclass names its module, its docs stub's DOCUMENTATION and its planner (a module with ``plan``,
``module_args`` and ``merge``, and optionally ``check_options``). One round trip reads the node
(``host_facts`` with the ``cluster`` and ``vms`` subsets: ``cluster`` tells a VM of another node from a
name that matches nothing), and at most one applies the plan; none applies in check mode.
"""
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hyperv.backup.plugins.doc_fragments.vm_selection import ModuleDocFragment
from ansible_collections.hyperv.backup.plugins.plugin_utils._argspec import argument_spec_from_doc
from ansible_collections.hyperv.backup.plugins.plugin_utils._selection import SelectionError
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError, diff

FACTS_MODULE = "hyperv.backup.host_facts"
GATHER_SUBSET = ["cluster", "vms"]


def argument_spec(documentation):
    """The spec of a stub that extends ``hyperv.backup.vm_selection``: the fragment's options plus its own."""
    spec = argument_spec_from_doc(ModuleDocFragment.DOCUMENTATION)
    spec["argument_spec"].update(argument_spec_from_doc(documentation)["argument_spec"])
    return spec


class VmAction(ActionBase):
    """Base of the action plugins that change settings of a node's VMs."""

    _supports_check_mode = True
    _supports_async = False

    NAME = None  # short module name, e.g. checkpoint_type
    DOCUMENTATION = None
    PLANNER = None
    VALIDATION = {}  # extra validate_argument_spec keywords (required_one_of, ...)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(**argument_spec(self.DOCUMENTATION), **self.VALIDATION)
        try:
            if hasattr(self.PLANNER, "check_options"):
                self.PLANNER.check_options(args)
        except PlanError as err:
            raise AnsibleActionFail(f"{self.NAME}: {err}") from None

        gathered = self._execute_module(module_name=FACTS_MODULE, module_args={"gather_subset": list(GATHER_SUBSET)},
                                        task_vars=task_vars)
        if gathered.get("failed"):
            result.update(failed=True, changed=False,
                          msg=f"{self.NAME}: reading the host failed: {gathered.get('msg', 'no message')}")
            return result
        facts = (gathered.get("ansible_facts") or {}).get("hyperv_backup")
        if not isinstance(facts, dict) or not isinstance(facts.get("vms"), list):
            raise AnsibleActionFail(f"{self.NAME}: {FACTS_MODULE} returned no VM facts")

        try:
            plan = self.PLANNER.plan(facts, args)
        except (PlanError, SelectionError) as err:
            raise AnsibleActionFail(f"{self.NAME}: {err}") from None

        applied = None
        if plan["operations"] and not self._task.check_mode:
            applied = self._execute_module(module_name=f"hyperv.backup.{self.NAME}",
                                           module_args=self.PLANNER.module_args(plan, args), task_vars=task_vars)
            if applied.get("failed") and not isinstance(applied.get("vms"), list):
                result.update(failed=True, changed=bool(applied.get("changed")),
                              msg=f"{self.NAME}: applying on the host failed: {applied.get('msg', 'no message')}")
                return result
            if applied.get("warnings"):
                result.setdefault("warnings", []).extend(applied["warnings"])

        final = self.PLANNER.merge(plan, applied)
        result["changed"] = final.pop("changed")
        result.update(final)
        result["elsewhere"] = plan["elsewhere"]
        if self._task.diff:
            result["diff"] = diff(final["vms"])
        failed = [entry for entry in final["vms"] if entry["status"] == "failed"]
        if failed:
            result["failed"] = True
            details = "; ".join(f"{entry['name']}: {entry.get('msg', 'failed')}" for entry in failed)
            result["msg"] = f"{self.NAME}: {len(failed)} of {len(final['vms'])} VM(s) failed, the others were applied: {details}"
        return result
