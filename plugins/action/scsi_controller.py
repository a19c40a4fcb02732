"""Action plugin for hyperv.backup.scsi_controller: plan on the controller, one round trip to read, at most one to apply."""
from ansible_collections.hyperv.backup.plugins.modules.scsi_controller import DOCUMENTATION
from ansible_collections.hyperv.backup.plugins.plugin_utils import _scsi_controller
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_action import VmAction


class ActionModule(VmAction):
    NAME = "scsi_controller"
    DOCUMENTATION = DOCUMENTATION
    PLANNER = _scsi_controller
