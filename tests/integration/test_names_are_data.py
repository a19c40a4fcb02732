"""VM names are data: quotes, `$()`, `;`, backticks and non-ASCII letters select a VM by its exact name,
through real ansible processes, and reach the host byte for byte (hvsim's journal records the module
arguments as the host received them). Control characters are refused, pointing to the VM ID."""
import copy
import json

import pytest

from hvsim.testing import host_results, run_ansible
from tests.integration import modelkit
from tests.integration.modelkit import model, model_bytes, node, vm

pytestmark = pytest.mark.integration

NAMES = {
    "O'Brien $(test); x": "a1f1c7a0-0001-4c1a-9a7e-000000000001",
    "tick`s `$(Get-Date) `\"q\"": "a1f1c7a0-0002-4c1a-9a7e-000000000002",
    "\u00dcn\u00efc\u00f6d\u00e9-VM": "a1f1c7a0-0003-4c1a-9a7e-000000000003",
    "\u6570\u636e\u5e93": "a1f1c7a0-0004-4c1a-9a7e-000000000004",
}
CONTROL = ("line\nbreak", "a1f1c7a0-0005-4c1a-9a7e-000000000005")
BYSTANDER = ("O'Brien", "a1f1c7a0-0006-4c1a-9a7e-000000000006")   # a prefix of a data name: never selected

# Off, Standard checkpoints, no SCSI controller: both checkpoint_type and scsi_controller change them.
MODEL = model([node("HV01")], [
    vm(name, vm_id, "HV01", state="Off", scsi=0, controller="IDE", generation=1, checkpoint_type="Standard")
    for name, vm_id in list(NAMES.items()) + [CONTROL, BYSTANDER]
])


@pytest.fixture
def lab(lab_of):
    return lab_of(copy.deepcopy(MODEL))


def model_vms(lab):
    return {v["id"]: v for v in lab.read_model()["vms"]}


def applied(lab, module):
    """The operations the host received for ``module``, from hvsim's journal (exactly as sent)."""
    runs = [entry for entry in lab.journal if entry["module"] == module]
    assert len(runs) == 1, lab.journal
    return runs[0]["args"]["operations"]


def test_a_name_with_quotes_dollar_semicolon_backticks_or_non_ascii_is_selected_and_changed(lab):
    args = json.dumps({"checkpoint_type": "Production", "vms": list(NAMES)})
    rc, results = modelkit.adhoc(lab, "checkpoint_type", args, "--diff")
    assert rc == 0, results
    result = results["HV01"]
    assert {e["name"]: e["id"] for e in result["vms"]} == NAMES
    assert {e["status"] for e in result["vms"]} == {"changed"}
    assert set(result["diff"]["after"]) == set(NAMES)
    # what the host received: every name byte for byte, with its ID
    assert sorted((op["name"], op["id"]) for op in applied(lab, "checkpoint_type")) == sorted(NAMES.items())
    after = model_vms(lab)
    assert {after[vm_id]["name"]: after[vm_id]["checkpoint_type"] for vm_id in NAMES.values()} == \
        {name: "Production" for name in NAMES}
    assert after[BYSTANDER[1]]["checkpoint_type"] == "Standard"
    assert after[CONTROL[1]]["checkpoint_type"] == "Standard"
    assert [v["name"] for v in lab.read_model()["vms"]] == list(NAMES) + [CONTROL[0], BYSTANDER[0]]


def test_names_travel_through_a_playbook_and_scsi_controller_unchanged(lab, tmp_path):
    playbook = tmp_path / "site.yml"
    # YAML as a user writes it: each name once, in its own quoting
    playbook.write_text(
        "- hosts: hv\n  gather_facts: false\n  tasks:\n"
        "    - hyperv.backup.scsi_controller:\n"
        "        vms:\n"
        "          - \"O'Brien $(test); x\"\n"
        "          - 'tick`s `$(Get-Date) `\"q\"'\n"
        "          - \u00dcn\u00efc\u00f6d\u00e9-VM\n"
        "          - \u6570\u636e\u5e93\n", encoding="utf-8")
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    result = host_results(out)["HV01"]
    assert {e["name"]: e["status"] for e in result["vms"]} == {name: "changed" for name in NAMES}
    assert sorted((op["name"], op["id"]) for op in applied(lab, "scsi_controller")) == sorted(NAMES.items())
    after = model_vms(lab)
    assert {after[vm_id]["name"]: after[vm_id]["scsi_controllers"] for vm_id in NAMES.values()} == \
        {name: 1 for name in NAMES}
    assert after[BYSTANDER[1]]["scsi_controllers"] == 0


def test_a_pattern_with_such_characters_matches_them(lab):
    rc, results = modelkit.adhoc(lab, "checkpoint_type", json.dumps({"checkpoint_type": "Production",
                                                                     "vms": ["O'Brien $(*"]}))
    assert rc == 0, results
    assert [e["name"] for e in results["HV01"]["vms"]] == ["O'Brien $(test); x"]


def test_a_control_character_is_refused_pointing_to_the_vm_id_then_the_id_works(lab):
    args = json.dumps({"checkpoint_type": "Production", "vms": [CONTROL[0]]})
    results = modelkit.fails_leaving_model_untouched(lab, "checkpoint_type", args, "control character U+000A")
    assert "select that VM by its ID" in results["HV01"]["msg"]

    untouched = model_bytes(lab)
    rc, results = modelkit.adhoc(lab, "checkpoint_type", json.dumps({"checkpoint_type": "Production",
                                                                     "vms": [CONTROL[1]]}))
    assert rc == 0, results
    assert [(e["name"], e["status"]) for e in results["HV01"]["vms"]] == [(CONTROL[0], "changed")]
    assert model_bytes(lab) != untouched
    assert model_vms(lab)[CONTROL[1]]["checkpoint_type"] == "Production"
