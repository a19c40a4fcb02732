"""The backup_integration planner: which VMs are changed, which are left pending and why, and the notes on
guests that do not answer."""
import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils import _backup_integration as planner
from ansible_collections.hyperv.backup.plugins.plugin_utils._selection import SelectionError
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError
from tests.unit.factsdata import node, vm


def service(enabled, status="OK"):
    return {"Enabled": enabled, "PrimaryStatusDescription": status}


VMS = [
    vm("APP02", BackupIntegration=service(False)),
    vm("SQL01"),
    vm("OLD01", node_state="Off", BackupIntegration=service(False, None)),
    vm("SAVED01", node_state="Saved", BackupIntegration=service(False)),
    vm("CRIT01", node_state="OffCritical", BackupIntegration=None),
    vm("LINUX01", BackupIntegration=service(True, "No Contact")),
]


def plan(**options):
    return planner.plan(node("HV01", VMS), options)


def by_name(entries):
    return {entry["name"]: entry for entry in entries}


def test_enabled_plans_the_off_and_running_vms_whose_service_is_off():
    the_plan = plan()
    entries = by_name(the_plan["vms"])
    assert [op["name"] for op in the_plan["operations"]] == ["APP02", "OLD01"]
    assert all(op["enabled"] is True for op in the_plan["operations"])
    assert entries["APP02"]["before"] == {"Enabled": False} and entries["APP02"]["after"] == {"Enabled": True}
    assert {name: e["status"] for name, e in entries.items()} == {
        "APP02": "changed", "SQL01": "ok", "OLD01": "changed", "SAVED01": "pending", "CRIT01": "pending",
        "LINUX01": "ok"}


def test_a_vm_that_is_neither_off_nor_running_is_pending_with_the_reason():
    entry = by_name(plan()["vms"])["SAVED01"]
    assert entry["after"] == entry["before"] == {"Enabled": False}
    assert entry["msg"].startswith("Saved: its integration services are changed only while the VM is Off or Running")


def test_a_vm_whose_service_could_not_be_read_is_pending():
    entry = by_name(plan()["vms"])["CRIT01"]
    assert entry["before"] == entry["after"] == {"Enabled": None}
    assert "could not be read on this node, or it has none" in entry["msg"]


def test_disabled_plans_the_vms_whose_service_is_on():
    the_plan = plan(state="disabled")
    assert [(op["name"], op["enabled"]) for op in the_plan["operations"]] == [("LINUX01", False), ("SQL01", False)]
    assert by_name(the_plan["vms"])["APP02"]["status"] == "ok"


def test_selection_applies():
    the_plan = plan(vms=["app*", "OLD01"], exclude=["OLD01"])
    assert [e["name"] for e in the_plan["vms"]] == ["APP02"]
    with pytest.raises(SelectionError, match="'NOPE01' matches no VM on HV01"):
        plan(vms=["NOPE01"])


def test_an_unknown_state_is_refused():
    with pytest.raises(PlanError, match="state: unknown value 'on'; choose from enabled, disabled"):
        plan(state="on")


def test_merge_without_an_apply_counts_the_plan_and_notes_the_guest_that_does_not_answer():
    final = planner.merge(plan(), None)
    assert final["changed"] is True
    assert final["counts"] == {"selected": 6, "changed": 2, "ok": 2, "pending": 2, "failed": 0}
    assert [p["name"] for p in final["pending"]] == ["CRIT01", "SAVED01"]
    [note] = final["notes"]
    assert note.startswith("LINUX01 (") and "(status: No Contact)" in note and "hv_vss_daemon" in note
    assert all("state" not in e for e in final["vms"])


def test_merge_takes_the_hosts_read_back_and_guest_status():
    the_plan = plan(vms=["APP02", "OLD01"])
    applied = {"changed": True, "vms": [
        {"id": by_name(the_plan["vms"])["APP02"]["id"], "name": "APP02", "status": "changed",
         "before": {"Enabled": False}, "after": {"Enabled": True}, "guest_status": "No Contact"},
        {"id": by_name(the_plan["vms"])["OLD01"]["id"], "name": "OLD01", "status": "failed",
         "before": {"Enabled": False}, "after": {"Enabled": False}, "guest_status": None,
         "error": "Enable-VMIntegrationService returned without an error, but ... is still disabled"},
    ]}
    final = planner.merge(the_plan, applied)
    entries = by_name(final["vms"])
    assert entries["APP02"]["status"] == "changed" and entries["APP02"]["guest_status"] == "No Contact"
    assert entries["OLD01"]["status"] == "failed" and entries["OLD01"]["after"] == {"Enabled": False}
    assert entries["OLD01"]["msg"].startswith("Enable-VMIntegrationService returned without an error")
    [note] = final["notes"]
    assert note.startswith("APP02 (") and note.endswith("to see whether it answers now")


def test_no_note_for_a_guest_that_answers_an_off_vm_or_a_disabled_service():
    facts = node("HV01", [
        vm("A", BackupIntegration=service(True)),
        vm("B", node_state="Off", BackupIntegration=service(True, "No Contact")),
        vm("C", BackupIntegration=service(True, "No Contact")),
    ])
    assert planner.merge(planner.plan(facts, {"vms": ["A", "B"]}), None)["notes"] == []
    assert planner.merge(planner.plan(facts, {"state": "disabled", "vms": ["C"]}), None)["notes"] == []
    assert len(planner.merge(planner.plan(facts, {"vms": ["C"]}), None)["notes"]) == 1
