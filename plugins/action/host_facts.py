"""Action plugin for hyperv.backup.host_facts: validate on the controller, read the node in one round trip."""
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hyperv.backup.plugins.modules.host_facts import DOCUMENTATION
from ansible_collections.hyperv.backup.plugins.plugin_utils._argspec import argument_spec_from_doc
from ansible_collections.hyperv.backup.plugins.plugin_utils._events import (
    EventsOptionError,
    check_events_options,
    event_queries,
)
from ansible_collections.hyperv.backup.plugins.plugin_utils._facts import (
    GatherSubsetError,
    normalize_gather_subset,
)
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_action import plain_message, validate_arguments

MODULE = "hyperv.backup.host_facts"


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = validate_arguments(self, "host_facts", argument_spec_from_doc(DOCUMENTATION))
        try:
            subsets = normalize_gather_subset(args["gather_subset"])
            check_events_options(args["events_days"], args["events_max"])
        except (GatherSubsetError, EventsOptionError) as err:
            raise AnsibleActionFail(plain_message(str(err))) from None
        module_args = {"gather_subset": subsets, "acl_paths": args["acl_paths"]}
        if "events" in subsets:
            # The controller decides which events are read (_events.EVENT_LOGS); the host reads them.
            module_args.update(events_days=args["events_days"], events_max=args["events_max"],
                               event_queries=event_queries())
        result.update(self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars))
        result.pop("invocation", None)
        if result.get("failed") and result.get("msg"):
            result["msg"] = plain_message(result["msg"])
        result["changed"] = False
        return result
