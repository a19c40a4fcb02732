"""hvsim's scsi_controller: Add-VMScsiController only while Off, at most 4, graceful restarts in virtual time."""
import copy
import re

import pytest

from hvsim import ops, world
from hvsim.ops import scsi_controller as op_module
from hvsim.testing import model_path
from hvsim.model import load_file

SQL01 = "d9e0eb0a-5b37-508e-9173-67e9ade83acf"   # HV01, Running, 1 controller, shuts down in 5 s
WEB01 = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"   # HV02, Off, 0 controllers


@pytest.fixture
def data():
    return load_file(model_path("minimal"))


def run(data, node, operations, check_mode=False, **kw):
    args = {"operations": operations, "_ansible_check_mode": check_mode}
    args.update(kw)
    return ops.run("scsi_controller", node, data, args)


def vm(data, vm_id):
    return next(v for v in data["vms"] if v["id"] == vm_id)


def test_adds_controllers_to_an_off_vm_up_to_count(data):
    result = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "count": 2}])
    assert result["changed"] is True
    assert result["vms"] == [{"id": WEB01, "name": "WEB01", "status": "changed", "restarted": False,
                              "shutdown": "none", "before": {"ScsiControllers": 0}, "after": {"ScsiControllers": 2}}]
    assert vm(data, WEB01)["scsi_controllers"] == 2 and world.vm_state(vm(data, WEB01)) == "Off"


def test_a_vm_with_enough_is_ok(data):
    before = copy.deepcopy(data)
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "count": 1}])
    assert result["changed"] is False and result["vms"][0]["status"] == "ok"
    assert data == before


def test_a_running_vm_is_refused_without_restart(data):
    before = copy.deepcopy(data)
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "count": 2}])
    item = result["vms"][0]
    assert item["status"] == "failed"
    assert item["error"] == "'SQL01' is Running; Hyper-V adds a SCSI controller only while the VM is Off"
    assert data == before


@pytest.mark.parametrize("state", ["Saved", "Paused"])
def test_saved_or_paused_vms_are_never_restarted(data, state):
    vm(data, SQL01)["state"] = state
    before = copy.deepcopy(data)
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "count": 2, "restart": True}])
    assert result["vms"][0]["status"] == "failed" and f"is {state}" in result["vms"][0]["error"]
    assert data == before


def test_restart_shuts_down_adds_and_starts_again(data):
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "count": 3, "restart": True}], shutdown_timeout=10)
    item = result["vms"][0]
    assert (item["status"], item["restarted"], item["after"]) == ("changed", True, {"ScsiControllers": 3})
    assert vm(data, SQL01)["state"] == "Running" and vm(data, SQL01)["scsi_controllers"] == 3


def restart(data, count=2, **kw):
    """Restart SQL01 (HV01, Running, 1 controller) to give it ``count`` controllers; returns its item."""
    kw.setdefault("shutdown_timeout", 10)
    kw.setdefault("shutdown_grace", 20)
    return run(data, "HV01", [{"id": SQL01, "name": "SQL01", "count": count, "restart": True}], **kw)


def faults(data, *entries, vanishing=None):
    data["faults"]["cmdlets"] = list(entries)
    if vanishing is not None:
        data["faults"]["vanishing_vms"] = vanishing


def test_a_slow_guest_that_is_off_within_the_grace_period_gets_its_controller_and_is_started(data):
    vm(data, SQL01)["guest"] = {"shutdown_seconds": 25, "honours_shutdown": True}   # 10 s + 20 s of grace
    result = restart(data)
    item = result["vms"][0]
    assert (item["status"], item["shutdown"], item["restarted"]) == ("changed", "completed", True)
    assert item["after"] == {"ScsiControllers": 2} and "warnings" not in result
    assert vm(data, SQL01)["state"] == "Running" and vm(data, SQL01)["scsi_controllers"] == 2


def test_a_guest_slower_than_the_grace_period_is_a_change_with_a_warning_and_is_off_by_the_next_run(data):
    vm(data, SQL01)["guest"] = {"shutdown_seconds": 31, "honours_shutdown": True}
    result = restart(data)
    item = result["vms"][0]
    assert result["changed"] is True and "failed" not in result
    assert (item["status"], item["shutdown"], item["restarted"], item["state"]) == ("changed", "unfinished", False,
                                                                                   "Running")
    assert item["after"] == {"ScsiControllers": 1}
    assert item["reason"].startswith("'SQL01' was asked to shut down and is still Running after 10 s and 20 s of "
                                     "grace, so it has no new SCSI controller")
    assert result["warnings"] == ["scsi_controller: " + item["reason"]]
    assert vm(data, SQL01)["state"] == "Running"
    # The guest goes on shutting down: by the next module run it is Off (and not started again).
    ops.load_all()
    facts = ops.run("host_facts", "HV01", data, {"gather_subset": ["vms"]})
    assert facts["ansible_facts"]["hyperv_backup"]["vms"][0]["State"] == "Off"
    assert vm(data, SQL01)["scsi_controllers"] == 1


def test_a_guest_that_ignores_the_request_is_reported_the_same_way_and_stays_running(data):
    vm(data, SQL01)["guest"] = {"shutdown_seconds": 1, "honours_shutdown": False}
    item = restart(data)["vms"][0]
    assert (item["status"], item["shutdown"]) == ("changed", "unfinished")
    ops.load_all()
    ops.run("host_facts", "HV01", data, {"gather_subset": ["vms"]})
    assert vm(data, SQL01)["state"] == "Running"


def test_a_locked_guest_refuses_at_once_and_nothing_changes(data):
    vm(data, SQL01)["guest"] = {"shutdown_seconds": 1, "honours_shutdown": True, "locked": True}
    before = copy.deepcopy(data)
    result = restart(data)
    item = result["vms"][0]
    assert result["changed"] is False
    assert (item["status"], item["shutdown"], item["restarted"]) == ("failed", "refused", False)
    assert item["error"] == ("'SQL01' did not shut down: 'SQL01' failed to shut down. The virtual machine cannot be "
                             "shut down without the force option because it is locked (Hyper-V return code "
                             "32781).; it is left Running")
    assert data == before


@pytest.mark.parametrize("cmdlet, after, error", [
    ("Add-VMScsiController", 0, "adding a SCSI controller to 'SQL01' failed: Add-VMScsiController failed "
                                "(hvsim fault injection)"),
    ("Get-VMScsiController", 1, None),   # the read-back after the change (the first read passes)
    ("Get-VM", 1, None),                 # the read-back Get-VM (Get-OperationVM's passes)
])
def test_whatever_fails_after_the_shut_down_the_vm_is_started_again(data, cmdlet, after, error):
    faults(data, {"cmdlet": cmdlet, "vm": "SQL01", "after": after})
    result = restart(data)
    item = result["vms"][0]
    assert vm(data, SQL01)["state"] == "Running"
    assert item["restarted"] is True and item["shutdown"] == "completed"
    assert result["changed"] is True
    if error:
        assert (item["status"], item["error"]) == ("failed", error)
        assert item["after"] == {"ScsiControllers": 1}
    else:
        # The change was made; reading it back failed: 'after' says what this run did, with a warning.
        assert item["status"] == "changed" and item["after"] == {"ScsiControllers": 2}
        assert any("reading the SCSI controllers of 'SQL01' back failed" in w for w in result["warnings"])


def test_a_vm_that_does_not_start_again_is_reported_and_left_off(data):
    faults(data, {"cmdlet": "Start-VM", "message": "The virtual machine could not be started: not enough memory."})
    item = restart(data)["vms"][0]
    assert item["status"] == "failed" and item["restarted"] is False
    assert item["error"] == ("'SQL01' was shut down but did not start again: The virtual machine could not be "
                             "started: not enough memory.; it is left Off")
    assert vm(data, SQL01)["state"] == "Off" and vm(data, SQL01)["scsi_controllers"] == 2


def test_when_the_change_and_the_start_both_fail_both_are_reported(data):
    faults(data, {"cmdlet": "Add-VMScsiController", "vm": "SQL01"},
           {"cmdlet": "Start-VM", "message": "The virtual machine could not be started: not enough memory."})
    item = restart(data)["vms"][0]
    assert item["status"] == "failed" and item["restarted"] is False
    assert item["error"] == ("adding a SCSI controller to 'SQL01' failed: Add-VMScsiController failed (hvsim fault "
                             "injection); then 'SQL01' was shut down but did not start again: The virtual machine "
                             "could not be started: not enough memory.; it is left Off")
    assert vm(data, SQL01)["state"] == "Off" and vm(data, SQL01)["scsi_controllers"] == 1


def test_a_change_that_does_not_take_fails_the_vm(data):
    faults(data, {"cmdlet": "Add-VMScsiController", "ignore": True})
    result = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "count": 1}])
    item = result["vms"][0]
    assert item["status"] == "failed"
    assert item["error"] == ("Add-VMScsiController returned without an error, but 'WEB01' has 0 SCSI controller(s) "
                             "where 1 were asked")


def test_a_fault_names_its_node_and_only_fails_there(data):
    faults(data, {"cmdlet": "Add-VMScsiController", "node": "HV01"})
    assert run(data, "HV02", [{"id": WEB01, "name": "WEB01", "count": 1}])["vms"][0]["status"] == "changed"


def test_a_vm_that_vanishes_after_get_vm_fails_alone(data):
    faults(data, vanishing=["SQL01"])
    result = restart(data)
    item = result["vms"][0]
    assert item["status"] == "failed"
    assert item["error"] == ("reading the SCSI controllers of 'SQL01' failed: Hyper-V was unable to find a virtual "
                             f'machine with ID "{SQL01}".')
    assert vm(data, SQL01)["state"] == "Running"


def test_a_vm_in_a_critical_state_is_not_restarted(data):
    vm(data, SQL01)["state"] = "RunningCritical"
    before = copy.deepcopy(data)
    item = restart(data)["vms"][0]
    assert item["status"] == "failed" and "critical state (RunningCritical)" in item["error"]
    assert data == before


def test_a_module_failure_returns_only_what_a_host_would_have_set(data):
    result = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "count": 1}], shutdown_grace=-1)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "scsi_controller: shutdown_grace -1 must be 0 or more seconds"
    assert "vms" not in result   # the .ps1 sets vms only once its arguments are accepted


def test_without_the_hyper_v_module_the_module_fails_naming_it(data):
    data["nodes"][1]["hyperv_module"] = False
    result = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "count": 1}])
    assert result["failed"] is True and "vms" not in result
    assert result["msg"] == ("scsi_controller: the Hyper-V PowerShell module is not available on HV02; install the "
                             "Hyper-V management tools")


def test_check_mode_restarts_nothing_and_changes_nothing(data):
    before = copy.deepcopy(data)
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "count": 2, "restart": True}], check_mode=True)
    assert result["changed"] is True and result["vms"][0]["after"] == {"ScsiControllers": 2}
    assert result["vms"][0]["restarted"] is False
    assert data == before


@pytest.mark.parametrize("count", [0, 5])
def test_count_out_of_range_fails_the_module_before_any_change(data, count):
    before = copy.deepcopy(data)
    result = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "count": 1},
                                {"id": WEB01, "name": "WEB01", "count": count}])
    assert result["failed"] is True
    assert result["msg"] == (f"scsi_controller: operations[1].count {count} is out of range; "
                             "a VM has 1 to 4 SCSI controllers")
    assert data == before


def test_the_model_can_not_exceed_four_controllers(data):
    vm(data, WEB01)["scsi_controllers"] = 4
    with pytest.raises(ops.CmdletError, match="maximum of 4"):
        op_module._add_controller(vm(data, WEB01))


def test_unknown_and_foreign_ids_are_per_vm_failures(data):
    result = run(data, "HV01", [{"id": WEB01, "name": "WEB01", "count": 1},
                                {"id": "{" + SQL01.upper() + "}", "name": "SQL01", "count": 1}])
    assert result["vms"][0]["error"] == f'Hyper-V was unable to find a virtual machine with ID "{WEB01}".'
    assert result["vms"][1]["status"] == "ok"


def test_spec_mirrors_the_ps1():
    with open("plugins/modules/scsi_controller.ps1", encoding="utf-8") as fh:
        ps1 = fh.read()
    declared = set(re.findall(r"^\s*(\w+) = @\{", ps1, re.M)) - {"spec", "options"}
    spec = op_module.SPEC["options"]
    assert declared == set(spec) | set(spec["operations"]["options"])
