"""Action plugin for hyperv.backup.csv_placement: plan from the cluster view on the controller, then carry the
moves out on this node one module run per move (or per batch of ``parallel``), showing each as it completes."""
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hyperv.backup.plugins.modules.csv_placement import DOCUMENTATION
from ansible_collections.hyperv.backup.plugins.plugin_utils._argspec import argument_spec_from_doc
from ansible_collections.hyperv.backup.plugins.plugin_utils._csv_moves import MoveRun, batches, run_options
from ansible_collections.hyperv.backup.plugins.plugin_utils._csv_placement import (
    PlacementError, placement_input, plan_placement, render_plan)
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_action import host_message, plain_message, validate_arguments

MODULE = "hyperv.backup.csv_placement"


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = validate_arguments(self, "csv_placement", argument_spec_from_doc(DOCUMENTATION))
        try:
            options, parallel, timeout = run_options(args)
            plan = plan_placement(placement_input(args["cluster_view"]), options)
        except PlacementError as err:
            message = str(err)
            raise AnsibleActionFail(plain_message(message if message.startswith("csv_placement") else
                                                  f"csv_placement: {message}")) from None

        check_mode = bool(self._task.check_mode)
        run = MoveRun(plan)
        warnings = list(plan["warnings"])
        if not check_mode:
            cluster = args["cluster_view"]["cluster"]["Name"]
            pending = batches(plan["moves"], parallel)
            while pending:
                batch = pending.pop(0)
                send = []
                for index in batch:
                    reason = run.skip_reason(index)
                    if reason:
                        run.skip(index, reason)
                        self._display.display(run.progress(index))
                    else:
                        send.append(index)
                if not send:
                    continue
                applied = self._execute_module(module_name=MODULE, task_vars=task_vars,
                                               module_args=run.module_args(send, cluster, args["migration_type"], timeout))
                warnings.extend(applied.get("warnings") or [])
                whole = run.record(send, applied, host_message(applied))
                for index in send:
                    self._display.display(run.progress(index))
                if whole:
                    rest = [index for later in pending for index in later]
                    run.abandon(rest, f"not attempted: the module failed on the host: {host_message(applied)}")
                    for index in rest:
                        self._display.display(run.progress(index))
                    break

        counts = run.counts()
        result.update(
            changed=counts["moved"] > 0 if not check_mode else bool(plan["moves"]),
            moves=run.entries,
            plan=plan,
            table=render_plan(plan),
            counts=counts,
        )
        if warnings:
            result["warnings"] = warnings
        if self._task.diff and plan["moves"]:
            result["diff"] = run.diff(check_mode)
        message = run.failure_message()
        if message:
            result.update(failed=True, msg=plain_message(message))
        return result
