"""hyperv.backup.view_after: the cluster view as a run left it, from the view it started from and what the
modules of the run applied and read back."""
from ansible.errors import AnsibleFilterError

from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import ClusterViewError
from ansible_collections.hyperv.backup.plugins.plugin_utils._view_after import ViewAfterError, view_after


def _view_after(view, results):
    try:
        return view_after(view, results)
    except (ViewAfterError, ClusterViewError) as err:
        raise AnsibleFilterError(str(err)) from None


class FilterModule:
    def filters(self):
        return {"view_after": _view_after}
