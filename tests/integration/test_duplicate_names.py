"""Hyper-V allows two VMs of the same name: hvsim models it, and selection, results, diff and the cluster
view keep them apart by ID, through real ansible processes."""
import copy
import json

import pytest

from hvsim.testing import run_ansible
from tests.integration import modelkit
from tests.integration.modelkit import model, node, vm

pytestmark = pytest.mark.integration

RUNNING = "7e1f0c11-0001-4d2a-9b3c-000000000001"
OFF = "7e1f0c11-0002-4d2a-9b3c-000000000002"
ON_HV02 = "7e1f0c11-0003-4d2a-9b3c-000000000003"

MODEL = model([node("HV01"), node("HV02")], [
    vm("TWIN", RUNNING, "HV01", checkpoint_type="Standard", scsi=1),
    vm("twin", OFF, "HV01", state="Off", checkpoint_type="Standard", scsi=0, controller="IDE", generation=1),
    vm("TWIN", ON_HV02, "HV02", state="Off", checkpoint_type="Standard"),
    vm("OTHER01", "7e1f0c11-0004-4d2a-9b3c-000000000004", "HV01", checkpoint_type="Standard"),
])


@pytest.fixture
def lab(lab_of):
    return lab_of(copy.deepcopy(MODEL))


def by_id(lab):
    return {v["id"]: v for v in lab.read_model()["vms"]}


def test_a_shared_name_selects_every_vm_of_that_name_told_apart_by_id(lab):
    rc, results = modelkit.adhoc(lab, "checkpoint_type", json.dumps({"checkpoint_type": "Production",
                                                                     "vms": ["TWIN"]}), "--diff")
    assert rc == 0, results
    hv01, hv02 = results["HV01"], results["HV02"]
    assert [(e["name"], e["id"], e["status"]) for e in hv01["vms"]] == [("TWIN", RUNNING, "changed"),
                                                                        ("twin", OFF, "changed")]
    assert hv01["counts"]["selected"] == 2 and hv01["counts"]["changed"] == 2
    assert hv01["diff"]["after"] == {f"TWIN ({RUNNING})": {"CheckpointType": "Production"},
                                     f"twin ({OFF})": {"CheckpointType": "Production"}}
    assert [(e["name"], e["id"]) for e in hv02["vms"]] == [("TWIN", ON_HV02)]
    assert hv02["diff"]["after"] == {"TWIN": {"CheckpointType": "Production"}}
    sent = sorted(op["id"] for entry in lab.journal if entry["module"] == "checkpoint_type"
                  for op in entry["args"]["operations"])
    assert sent == sorted([RUNNING, OFF, ON_HV02])
    vms = by_id(lab)
    assert {vm_id: vms[vm_id]["checkpoint_type"] for vm_id in (RUNNING, OFF, ON_HV02)} == \
        {RUNNING: "Production", OFF: "Production", ON_HV02: "Production"}
    assert vms["7e1f0c11-0004-4d2a-9b3c-000000000004"]["checkpoint_type"] == "Standard"


def test_each_vm_of_a_shared_name_gets_its_own_result(lab):
    rc, results = modelkit.adhoc(lab, "scsi_controller", "vms=twin", hosts="HV01")
    assert rc == 0, results
    entries = {e["id"]: e for e in results["HV01"]["vms"]}
    assert entries[OFF]["status"] == "changed" and entries[RUNNING]["status"] == "ok"
    assert by_id(lab)[OFF]["scsi_controllers"] == 1

    rc, results = modelkit.adhoc(lab, "checkpoint_type", f"checkpoint_type=Disabled vms={OFF}", hosts="HV01")
    assert rc == 0, results
    assert [e["id"] for e in results["HV01"]["vms"]] == [OFF]
    assert by_id(lab)[RUNNING]["checkpoint_type"] == "Standard"


def test_the_cluster_view_and_report_keep_both(lab, tmp_path):
    playbook = tmp_path / "view.yml"
    playbook.write_text(
        "- hosts: hv\n  gather_facts: false\n  tasks:\n"
        "    - hyperv.backup.host_facts:\n      register: facts\n"
        "    - ansible.builtin.set_fact:\n"
        "        view: \"{{ ansible_play_hosts | map('extract', hostvars, 'facts') | hyperv.backup.cluster_view }}\"\n"
        "      run_once: true\n"
        "    - ansible.builtin.debug:\n"
        "        msg: \"{{ {'vms': view.vms | map(attribute='Id') | list,"
        " 'report': (view | hyperv.backup.readiness).findings | selectattr('check', 'eq', 'checkpoint_type')"
        " | map(attribute='target') | list} }}\"\n"
        "      run_once: true\n")
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    # The last task (debug, run_once) has one host; which one finished host_facts first does not matter.
    [shown] = [result["msg"] for result in out["plays"][-1]["tasks"][-1]["hosts"].values()]
    assert sorted(shown["vms"]) == sorted([RUNNING, OFF, ON_HV02, "7e1f0c11-0004-4d2a-9b3c-000000000004"])
    assert sorted(shown["report"]) == ["OTHER01", "TWIN", "TWIN", "twin"]
