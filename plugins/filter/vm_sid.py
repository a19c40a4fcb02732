"""hyperv.backup.vm_sid: the SID of NT VIRTUAL MACHINE\\<VM GUID>."""
from ansible.errors import AnsibleFilterError

from ansible_collections.hyperv.backup.plugins.plugin_utils._sid import VmIdError, vm_sid
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type


def _vm_sid(vm_id):
    try:
        return vm_sid(vm_id)
    except VmIdError as err:
        raise AnsibleFilterError(f"vm_sid: {err} ({describe_type(vm_id)})") from None


class FilterModule:
    def filters(self):
        return {"vm_sid": _vm_sid}
