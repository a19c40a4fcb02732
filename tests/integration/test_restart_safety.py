"""hyperv.backup.scsi_controller's restart path on a troubled host, through real ansible against hvsim.

In every fault case the VM ends in the state it had before the task (Running), or the result says what
was done and what is left: a guest still shutting down after the grace period is a change with a warning
naming its state; a VM that does not start again is a failure naming it.
"""
import copy

import pytest

from hvsim.testing import host_results, run_ansible
from tests.integration import modelkit
from tests.integration.modelkit import model, node

pytestmark = pytest.mark.integration

DB01 = "6f9619ff-8b86-d011-b42d-00c04fc964ff"

MODEL = model(
    [node("HV01")],
    [
        modelkit.vm("APP01", "0f8fad5b-d9cb-469f-a165-70867728950e", "HV01", state="Off", scsi=0, controller="IDE"),
        modelkit.vm("DB01", DB01, "HV01", scsi=0, controller="IDE", shutdown_seconds=5),
    ],
)

RESTART = '{"vms": ["DB01", "APP01"], "running_vms": "restart", "shutdown_timeout": 10, "shutdown_grace": 20}'


def lab_with(lab_of, guest=None, cmdlets=None, **faults):
    data = copy.deepcopy(MODEL)
    if guest:
        data["vms"][1]["guest"].update(guest)
    if cmdlets:
        data["faults"]["cmdlets"] = cmdlets
    data["faults"].update(faults)
    return lab_of(data)


def state(lab, name="DB01"):
    vm = next(v for v in lab.read_model()["vms"] if v["name"] == name)
    return ("Off" if vm["state"] is False else vm["state"], vm["scsi_controllers"])


def restart(lab, args=RESTART):
    rc, results = modelkit.adhoc(lab, "scsi_controller", args, hosts="HV01")
    result = results["HV01"]
    return rc, result, {e["name"]: e for e in result["vms"]}


def test_a_slow_guest_that_is_off_within_the_grace_period_is_changed_and_started_again(lab_of):
    lab = lab_with(lab_of, guest={"shutdown_seconds": 25})   # 10 s timeout + 20 s of grace
    rc, result, entries = restart(lab)
    assert rc == 0, result
    assert (entries["DB01"]["status"], entries["DB01"]["shutdown"], entries["DB01"]["restarted"]) == \
        ("changed", "completed", True)
    assert result["counts"]["restarted"] == 1 and result["counts"]["shutdown_unfinished"] == 0
    assert state(lab) == ("Running", 1)


def test_a_guest_still_shutting_down_after_the_grace_period_is_a_change_with_a_warning(lab_of):
    lab = lab_with(lab_of, guest={"shutdown_seconds": 45})
    rc, result, entries = restart(lab)
    assert rc == 0, result   # not a failure: the guest accepted the request
    assert result["changed"] is True
    db01 = entries["DB01"]
    assert (db01["status"], db01["shutdown"], db01["restarted"]) == ("changed", "unfinished", False)
    assert db01["after"] == {"ScsiControllers": 0}
    assert result["counts"]["shutdown_unfinished"] == 1
    expected = ("scsi_controller: 'DB01' was asked to shut down and is still Running after 10 s and 20 s of grace, "
                "so it has no new SCSI controller; if it shuts down later it stays Off: start it again (Start-VM) "
                "and run this task again")
    assert expected in result["warnings"]
    assert entries["APP01"]["status"] == "changed"   # the other VM is applied
    # The shut down goes on after the task: the next read sees DB01 Off, as the warning said.
    rc, facts = modelkit.adhoc(lab, "host_facts", "gather_subset=vms", hosts="HV01")
    assert rc == 0
    assert {vm["Name"]: vm["State"] for vm in facts["HV01"]["ansible_facts"]["hyperv_backup"]["vms"]}["DB01"] == "Off"


def test_a_locked_guest_fails_at_once_and_is_left_running(lab_of):
    lab = lab_with(lab_of, guest={"locked": True})
    rc, result, entries = restart(lab)
    assert rc != 0
    db01 = entries["DB01"]
    assert (db01["status"], db01["shutdown"], db01["restarted"]) == ("failed", "refused", False)
    assert "cannot be shut down without the force option" in db01["msg"] and "32781" in db01["msg"]
    assert "DB01: 'DB01' did not shut down" in result["msg"]
    assert entries["APP01"]["status"] == "changed" and state(lab, "APP01") == ("Off", 1)
    assert state(lab) == ("Running", 0)


@pytest.mark.parametrize("fault, message", [
    ({"cmdlet": "Add-VMScsiController", "vm": "DB01", "message": "The storage is busy."},
     "adding a SCSI controller to 'DB01' failed: The storage is busy."),
    ({"cmdlet": "Get-VMScsiController", "vm": "DB01", "after": 1, "message": "RPC server unavailable."}, None),
    ({"cmdlet": "Get-VM", "vm": "DB01", "after": 1, "message": "RPC server unavailable."}, None),
], ids=["Add-VMScsiController", "Get-VMScsiController read-back", "Get-VM read-back"])
def test_whatever_fails_after_the_shut_down_the_vm_is_running_again(lab_of, fault, message):
    lab = lab_with(lab_of)
    # Only the apply run is faulted (the read before it must see DB01 as it is).
    lab_data = lab.read_model()
    lab_data["faults"]["cmdlets"] = [dict(fault, module="scsi_controller")]
    lab.write_model(lab_data)
    rc, result, entries = restart(lab)
    db01 = entries["DB01"]
    assert db01["restarted"] is True and db01["shutdown"] == "completed"
    assert state(lab)[0] == "Running"
    assert result["changed"] is True
    if message:
        assert rc != 0 and db01["status"] == "failed" and db01["msg"] == message
        assert state(lab) == ("Running", 0)
    else:
        assert rc == 0, result
        assert db01["status"] == "changed" and state(lab) == ("Running", 1)
        assert any("reading the SCSI controllers of 'DB01' back failed" in w for w in result["warnings"])


def test_a_vm_that_does_not_start_again_is_a_failure_naming_it(lab_of):
    lab = lab_with(lab_of, cmdlets=[{"cmdlet": "Start-VM", "message": "Not enough memory in the system to start."}])
    rc, result, entries = restart(lab)
    assert rc != 0 and result["changed"] is True
    assert entries["DB01"]["msg"] == ("'DB01' was shut down but did not start again: Not enough memory in the system "
                                      "to start.; it is left Off")
    assert state(lab) == ("Off", 1)


def test_the_hosts_message_reaches_the_user_when_the_apply_fails_as_a_whole(lab_of):
    lab = lab_with(lab_of, cmdlets=[{"cmdlet": "Import-Module", "module": "scsi_controller",
                                     "message": "The specified module 'Hyper-V' was not loaded."}])
    before = lab.read_model()["vms"]
    rc, result, entries = restart(lab)
    assert rc != 0
    assert result["msg"] == ("scsi_controller: applying on the host failed: scsi_controller: importing the Hyper-V "
                             "PowerShell module on HV01 failed: The specified module 'Hyper-V' was not loaded.")
    assert entries["DB01"]["status"] == "failed" and entries["DB01"]["msg"].startswith(
        "no result for this VM: the module failed on the host: scsi_controller: importing the Hyper-V")
    assert lab.read_model()["vms"] == before


def test_check_mode_sends_no_shut_down(lab_of):
    lab = lab_with(lab_of, guest={"locked": True})
    rc, out = run_ansible(lab, "HV01", "-m", "hyperv.backup.scsi_controller", "-a", RESTART, "--check")
    assert rc == 0, out
    assert host_results(out)["HV01"]["changed"] is True
    assert ("HV01", "scsi_controller") not in lab.round_trips()
    assert state(lab) == ("Running", 0)
