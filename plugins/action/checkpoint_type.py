"""Action plugin for hyperv.backup.checkpoint_type: plan on the controller, one round trip to read, at most one to apply."""
from ansible_collections.hyperv.backup.plugins.modules.checkpoint_type import DOCUMENTATION
from ansible_collections.hyperv.backup.plugins.plugin_utils import _checkpoint_type
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_action import VmAction


class ActionModule(VmAction):
    NAME = "checkpoint_type"
    DOCUMENTATION = DOCUMENTATION
    PLANNER = _checkpoint_type
    VALIDATION = {"required_one_of": [["checkpoint_type", "automatic_checkpoints"]]}
