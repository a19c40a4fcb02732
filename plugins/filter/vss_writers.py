"""hyperv.backup.vss_writers: the writers and their states from `vssadmin list writers`."""
from ansible.errors import AnsibleFilterError

from ansible_collections.hyperv.backup.plugins.plugin_utils._vss import parse_vss_writers
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type


def _vss_writers(text):
    if not isinstance(text, str):
        raise AnsibleFilterError(f"vss_writers: expected the text of 'vssadmin list writers' (a string), got {describe_type(text)}")
    return parse_vss_writers(text)


class FilterModule:
    def filters(self):
        return {"vss_writers": _vss_writers}
