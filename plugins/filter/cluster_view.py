"""hyperv.backup.cluster_view: merge the host_facts of every node into one view of the cluster."""
from ansible.errors import AnsibleFilterError

from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import ClusterViewError, cluster_view


def _cluster_view(node_facts):
    try:
        return cluster_view(node_facts)
    except ClusterViewError as err:
        raise AnsibleFilterError(str(err)) from None


class FilterModule:
    def filters(self):
        return {"cluster_view": _cluster_view}
