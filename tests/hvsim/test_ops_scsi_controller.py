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
                              "before": {"ScsiControllers": 0}, "after": {"ScsiControllers": 2}}]
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


@pytest.mark.parametrize("guest", [{"shutdown_seconds": 30, "honours_shutdown": True},
                                   {"shutdown_seconds": 1, "honours_shutdown": False}])
def test_a_guest_that_does_not_shut_down_in_time_is_left_running(data, guest):
    vm(data, SQL01)["guest"] = guest
    before = copy.deepcopy(data)
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "count": 2, "restart": True}], shutdown_timeout=10)
    item = result["vms"][0]
    assert item["status"] == "failed" and item["restarted"] is False
    assert item["error"] == "'SQL01' did not shut down within 10 s; it was asked to shut down and is left Running"
    assert data == before


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
    with pytest.raises(ValueError, match="maximum of 4"):
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
