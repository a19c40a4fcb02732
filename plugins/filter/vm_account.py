"""hyperv.backup.vm_account: the account name NT VIRTUAL MACHINE\\<VM GUID> of a VM's worker process."""
from ansible.errors import AnsibleFilterError

from ansible_collections.hyperv.backup.plugins.plugin_utils._sid import VmIdError, vm_account
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type


def _vm_account(vm_id):
    try:
        return vm_account(vm_id)
    except VmIdError as err:
        raise AnsibleFilterError(f"vm_account: {err} ({describe_type(vm_id)})") from None


class FilterModule:
    def filters(self):
        return {"vm_account": _vm_account}
