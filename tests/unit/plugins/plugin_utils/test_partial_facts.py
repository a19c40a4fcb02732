"""Facts of a VM read in part (host_facts gives null for what it could not read) do not break the controller."""
from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view, vhd_set_folders
from tests.unit.factsdata import node, vm


def test_cluster_view_takes_a_vm_whose_disks_could_not_be_read():
    troubled = vm("SQL01", node_state="OffCritical", HardDisks=None, ScsiControllers=None, Checkpoints=None,
                  BackupIntegration=None)
    view = cluster_view([node("HV01", [troubled, vm("WEB01")])])
    by_name = {v["Name"]: v for v in view["vms"]}
    assert by_name["SQL01"]["SharedVolumes"] == ["Cluster Disk 1"]   # from its Path alone
    assert by_name["SQL01"]["HardDisks"] is None
    assert vhd_set_folders(view["vms"]) == []
