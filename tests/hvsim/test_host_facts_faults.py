"""hvsim's host_facts on a troubled host: a VM that vanishes or is in a critical state, cmdlets and
properties that throw, the cluster service stopped or its PowerShell module missing, folders that may not
be read and UNC paths behind the double hop. Each is a warning or a clear error, as the .ps1 reports it."""
import copy

import pytest
import yaml

from hvsim import ops, world
from hvsim.ops import Context, ModuleFail
from hvsim.ops.host_facts import SUBSETS, host_facts
from tests.hvsim.test_host_facts_op import SMALL

GC_N1 = "d9e0eb0a-5b37-508e-9173-67e9ade83acf"   # HV01, Running, 3 controllers, clustered (anti-affinity GC)
OLD01 = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"   # HV01, Off, no SCSI controller


@pytest.fixture
def data():
    return yaml.safe_load(SMALL)


def read(data, node="HV01", **params):
    """``(facts, warnings)`` of host_facts on ``node``; the module must not fail."""
    params.setdefault("gather_subset", list(SUBSETS))
    params.setdefault("acl_paths", [])
    ctx = Context(node=node, data=data)
    result = host_facts(ctx, params)
    return result["ansible_facts"]["hyperv_backup"], ctx.warnings


def fails(data, node="HV01", **params):
    params.setdefault("gather_subset", list(SUBSETS))
    params.setdefault("acl_paths", [])
    with pytest.raises(ModuleFail) as err:
        host_facts(Context(node=node, data=data), params)
    return err.value.msg


def by_name(facts):
    return {vm["Name"]: vm for vm in facts["vms"]}


# -- VMs ----------------------------------------------------------------------------------------------------

def test_a_vm_that_moves_away_while_it_is_read_is_left_out_with_a_warning(data):
    data["faults"]["vanishing_vms"] = ["GC-N1"]
    facts, warnings = read(data)
    assert set(by_name(facts)) == {"OLD01"}
    assert by_name(facts)["OLD01"]["ScsiControllers"] == []   # the other VM is read in full
    assert warnings == [f"host_facts: VM 'GC-N1' ({GC_N1}) was listed on HV01 but is no longer there (moved to another "
                        "node or removed while it was read), so it is left out: Hyper-V was unable to find a virtual "
                        f'machine with ID "{GC_N1}".']


@pytest.mark.parametrize("state", ["OffCritical", "RunningCritical", "SavedCritical"])
def test_a_vm_in_a_critical_state_is_reported_in_part(data, state):
    data["vms"][0]["state"] = state
    facts, warnings = read(data)
    vms = by_name(facts)
    troubled = vms["GC-N1"]
    assert troubled["State"] == state and troubled["CheckpointType"] == "Standard"   # what Get-VM gives
    assert troubled["ScsiControllers"] is None and troubled["HardDisks"] is None
    assert troubled["BackupIntegration"] is None and troubled["Checkpoints"] is None
    assert vms["OLD01"]["HardDisks"][0]["ControllerType"] == "IDE"
    assert len(warnings) == 1
    assert warnings[0].startswith(f"host_facts: VM 'GC-N1' ({GC_N1}) on HV01 is reported in part, with null for what "
                                  "could not be read: BackupIntegration (Get-VMIntegrationService: The virtual machine "
                                  f"'GC-N1' is in a critical state ({state})")
    assert "Checkpoints (Get-VMSnapshot:" in warnings[0] and "ScsiControllers (Get-VMScsiController:" in warnings[0]


def test_a_cmdlet_failing_for_one_vm_falls_back_to_one_call_per_vm(data):
    data["faults"]["cmdlets"] = [{"cmdlet": "Get-VMHardDiskDrive", "vm": "GC-N1", "message": "The device is not ready."}]
    facts, warnings = read(data)
    troubled = by_name(facts)["GC-N1"]
    assert troubled["HardDisks"] is None
    assert troubled["ScsiControllers"] == [{"ControllerNumber": n, "DiskCount": None} for n in range(3)]
    assert by_name(facts)["OLD01"]["HardDisks"] != []
    assert warnings == [f"host_facts: VM 'GC-N1' ({GC_N1}) on HV01 is reported in part, with null for what could not "
                        "be read: HardDisks (Get-VMHardDiskDrive: The device is not ready.)"]


def test_a_batched_call_that_fails_once_loses_nothing(data):
    clean, _ = read(copy.deepcopy(data))
    # The call for all VMs fails; the per-VM calls that follow succeed.
    data["faults"]["cmdlets"] = [{"cmdlet": "Get-VMScsiController", "times": 1, "message": "busy"}]
    facts, warnings = read(data)
    assert warnings == [] and facts["vms"] == clean["vms"]


def test_after_lets_the_first_calls_pass(data):
    # GC-N1's read fails from its 2nd call on: the batched call (1st) passes, so nothing is missing.
    data["faults"]["cmdlets"] = [{"cmdlet": "Get-VMHardDiskDrive", "vm": "GC-N1", "after": 1}]
    facts, warnings = read(data)
    assert warnings == [] and by_name(facts)["GC-N1"]["HardDisks"]


def test_a_property_that_throws_is_null_and_the_rest_is_read(data):
    data["faults"]["cmdlets"] = [{"cmdlet": "Get-VM", "vm": "GC-N1", "property": "Version",
                                  "message": "The configuration is being updated."}]
    facts, warnings = read(data)
    troubled = by_name(facts)["GC-N1"]
    assert troubled["Version"] is None and troubled["Generation"] == 2 and len(troubled["ScsiControllers"]) == 3
    assert warnings == [f"host_facts: VM 'GC-N1' ({GC_N1}) on HV01 is reported in part, with null for what could not "
                        "be read: Version (The configuration is being updated.)"]


def test_get_vm_itself_failing_fails_the_node(data):
    data["faults"]["cmdlets"] = [{"cmdlet": "Get-VM", "message": "The Virtual Machine Management service is not running."}]
    assert fails(data) == ("host_facts: reading the VMs on HV01 failed: The Virtual Machine Management service is not "
                           "running.")


def test_a_fault_for_another_node_changes_nothing_here(data):
    data["faults"]["cmdlets"] = [{"cmdlet": "Get-VMSnapshot", "node": "HV02"}]
    facts, warnings = read(data)
    assert warnings == [] and by_name(facts)["GC-N1"]["Checkpoints"]


# -- feature detection --------------------------------------------------------------------------------------

def test_automatic_checkpoints_support_is_the_set_vm_parameter(data):
    data["nodes"][0]["set_vm_parameters"] = ["VM", "Name", "CheckpointType"]   # build 20348 without it
    facts, _ = read(data, gather_subset=["vms"])
    assert facts["node"]["AutomaticCheckpointsSupported"] is False
    assert all(vm["AutomaticCheckpointsEnabled"] is None for vm in facts["vms"])
    data["nodes"][1]["set_vm_parameters"] = world.SET_VM_PARAMETERS_14393 + ("AutomaticCheckpointsEnabled",)
    facts, _ = read(data, node="HV02", gather_subset=["vms"])   # build 14393 with it
    assert facts["node"]["AutomaticCheckpointsSupported"] is True
    assert facts["vms"][0]["AutomaticCheckpointsEnabled"] is True


# -- the cluster --------------------------------------------------------------------------------------------

def test_a_stopped_cluster_service_is_a_warning_and_no_cluster(data):
    data["nodes"][0]["cluster_service"] = "Stopped"
    facts, warnings = read(data, gather_subset=["cluster", "vms"])
    assert facts["cluster"] is None
    assert by_name(facts)["GC-N1"]["AntiAffinityClassNames"] == []
    assert warnings == ["host_facts: the cluster service (ClusSvc) is Stopped on HV01, so the failover cluster is not "
                        "read there: cluster is null and every VM's AntiAffinityClassNames is []; start the cluster "
                        "service (Start-ClusterNode) to read it"]


def test_no_cluster_service_is_not_clustered_without_a_warning(data):
    data["nodes"][0]["cluster_service"] = None
    facts, warnings = read(data, gather_subset=["cluster", "vms"])
    assert facts["cluster"] is None and warnings == []


def test_the_cluster_service_without_its_powershell_module_names_the_feature(data):
    data["nodes"][0]["failover_clusters_module"] = False
    assert fails(data, gather_subset=["cluster"]) == (
        "host_facts: HV01 runs the cluster service (ClusSvc) but has no FailoverClusters PowerShell module, so its "
        "failover cluster cannot be read; install it: Install-WindowsFeature RSAT-Clustering-PowerShell")
    facts, warnings = read(data, gather_subset=["vms"])
    assert by_name(facts)["GC-N1"]["AntiAffinityClassNames"] == []
    assert len(warnings) == 1 and "RSAT-Clustering-PowerShell" in warnings[0]


def test_a_failing_cluster_cmdlet(data):
    data["faults"]["cmdlets"] = [{"cmdlet": "Get-ClusterSharedVolume", "message": "The cluster is not reachable."}]
    assert fails(data, gather_subset=["cluster"]) == ("host_facts: reading the failover cluster on HV01 failed: The "
                                                      "cluster is not reachable.")
    facts, warnings = read(data, gather_subset=["vms"])   # not read for the VMs alone
    assert warnings == [] and by_name(facts)["GC-N1"]["AntiAffinityClassNames"] == ["GC"]


# -- acl_paths ----------------------------------------------------------------------------------------------

def test_access_denied_is_not_does_not_exist(data):
    data["folders"]["C:\\ClusterStorage\\Volume1\\Shared"]["denied"] = True
    assert fails(data, acl_paths=["C:\\ClusterStorage\\Volume1\\Shared"]) == (
        "host_facts: acl_paths item 'C:\\ClusterStorage\\Volume1\\Shared' cannot be read on HV01: Access to the path "
        "'C:\\ClusterStorage\\Volume1\\Shared' is denied. The account Ansible connects with needs the right to read "
        "its permissions")


def test_a_unc_path_of_another_server_is_behind_the_double_hop(data):
    data["folders"]["\\\\FS01\\VMs\\GC"] = {"owner": "S-1-5-32-544", "access": []}
    message = fails(data, acl_paths=["\\\\fs01\\vms\\GC"])
    assert message.startswith("host_facts: acl_paths item '\\\\fs01\\vms\\GC' cannot be read from HV01: Access to the "
                              "path '\\\\fs01\\vms\\GC' is denied. A UNC path is read with the credentials of the "
                              "WinRM session, which do not reach a second machine without delegation (the double hop)")
    unreachable = fails(data, acl_paths=["\\\\nas9\\share\\x"])
    assert "cannot be read from HV01: The network path was not found. A UNC path" in unreachable


def test_a_unc_path_the_node_serves_itself_is_read(data):
    data["folders"]["\\\\HV01\\VMs\\GC"] = {"owner": "S-1-5-32-544", "access": []}
    facts, _ = read(data, gather_subset=[], acl_paths=["\\\\hv01.test.example\\VMs\\GC"])
    assert facts["acls"][0]["Owner"] == "BUILTIN\\Administrators"
    assert fails(data, acl_paths=["\\\\HV01\\VMs\\nope"]) == ("host_facts: acl_paths item '\\\\HV01\\VMs\\nope' does "
                                                              "not exist on HV01")


# -- what ModuleFail returns ----------------------------------------------------------------------------------

def test_a_failed_module_returns_the_result_fields_set_before_the_failure(data):
    ops.load_all()
    result = ops.run("host_facts", "HV01", data, {"acl_paths": ["C:\\nope"]})
    assert result == {"changed": False, "failed": True,
                      "msg": "host_facts: acl_paths item 'C:\\nope' does not exist on HV01",
                      "invocation": result["invocation"]}
