"""Action plugin for hyperv.backup.backup_integration: plan on the controller, one round trip to read, at most one to apply."""
from ansible_collections.hyperv.backup.plugins.modules.backup_integration import DOCUMENTATION
from ansible_collections.hyperv.backup.plugins.plugin_utils import _backup_integration
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_action import VmAction


class ActionModule(VmAction):
    NAME = "backup_integration"
    DOCUMENTATION = DOCUMENTATION
    PLANNER = _backup_integration
