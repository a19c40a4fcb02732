import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils import _scsi_controller as planner
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError, diff
from tests.unit.factsdata import node, vm

ONE = [{"ControllerNumber": 0, "DiskCount": 1}]


def facts():
    return node("HV01", [
        vm("APP01", node_state="Off", ScsiControllers=[]),
        vm("DB01", node_state="Running", ScsiControllers=[]),
        vm("DB02", node_state="Running", ScsiControllers=[]),
        vm("FS01", node_state="Saved", ScsiControllers=[]),
        vm("PX01", node_state="Paused", ScsiControllers=[]),
        vm("WEB01", node_state="Running", ScsiControllers=ONE),
    ])


def options(**kw):
    base = {"count": 1, "running_vms": "skip", "max_restarts": 1, "shutdown_timeout": 300}
    base.update(kw)
    return base


def status(plan):
    return {e["name"]: e["status"] for e in plan["vms"]}


def test_skip_changes_only_off_vms_and_reports_the_others_pending():
    plan = planner.plan(facts(), options())
    assert status(plan) == {"APP01": "changed", "DB01": "pending", "DB02": "pending", "FS01": "pending",
                            "PX01": "pending", "WEB01": "ok"}
    assert [(op["name"], op["count"], op["restart"]) for op in plan["operations"]] == [("APP01", 1, False)]
    reasons = {p["name"]: p["reason"] for p in plan["pending"]}
    assert "running_vms: restart" in reasons["DB01"]
    assert reasons["FS01"].startswith("Saved:") and "never restarted" in reasons["FS01"]


def test_restart_takes_running_vms_in_name_order_up_to_max_restarts():
    plan = planner.plan(facts(), options(running_vms="restart", max_restarts=1))
    assert [(op["name"], op["restart"]) for op in plan["operations"]] == [("APP01", False), ("DB01", True)]
    entries = {e["name"]: e for e in plan["vms"]}
    assert entries["DB01"]["restart"] is True
    assert entries["DB02"]["status"] == "pending" and "max_restarts reached (1)" in entries["DB02"]["msg"]
    assert entries["FS01"]["status"] == "pending" and entries["PX01"]["status"] == "pending"


def test_restart_with_max_restarts_zero_restarts_nothing():
    plan = planner.plan(facts(), options(running_vms="restart", max_restarts=0))
    assert not any(op["restart"] for op in plan["operations"])


def test_no_vm_is_restarted_unless_restart_is_asked():
    plan = planner.plan(facts(), options(running_vms="skip", max_restarts=10))
    assert not any(op["restart"] for op in plan["operations"])
    assert all("restart" not in e for e in plan["vms"])


def test_fail_lists_every_vm_not_off_and_plans_nothing():
    with pytest.raises(PlanError, match=r"4 VM\(s\).*nothing was changed: DB01 \(Running\), DB02 \(Running\), "
                                        r"FS01 \(Saved\), PX01 \(Paused\)"):
        planner.plan(facts(), options(running_vms="fail"))


def test_fail_does_not_object_to_running_vms_that_have_enough():
    plan = planner.plan(facts(), options(running_vms="fail", vms=["WEB01", "APP01"]))
    assert status(plan) == {"APP01": "changed", "WEB01": "ok"}


def test_count_is_a_total_not_an_increment():
    plan = planner.plan(facts(), options(count=3, vms=["WEB01", "APP01"]))
    entries = {e["name"]: e for e in plan["vms"]}
    assert entries["WEB01"]["status"] == "pending"
    assert entries["APP01"]["after"] == {"ScsiControllers": 3}
    assert plan["operations"][0]["count"] == 3


@pytest.mark.parametrize("opts, message", [
    ({"count": 5}, "count: 5 is out of range.*1 to 4"),
    ({"count": 0}, "count: 0 is out of range"),
    ({"max_restarts": -1}, "max_restarts: -1"),
    ({"shutdown_timeout": 0}, "shutdown_timeout: 0"),
    ({"running_vms": "force"}, "running_vms: unknown value 'force'"),
])
def test_bad_options_are_refused(opts, message):
    with pytest.raises(PlanError, match=message):
        planner.check_options(options(**opts))


def test_merge_reports_restarts_and_shutdowns_that_did_not_finish_or_were_refused():
    facts_ = facts()
    facts_["vms"].append(vm("DB03", node_state="Running", ScsiControllers=[]))
    plan = planner.plan(facts_, options(running_vms="restart", max_restarts=3, vms=["APP01", "DB*"]))
    ids = {e["name"]: e["id"] for e in plan["vms"]}
    applied = {"changed": True, "vms": [
        {"id": ids["APP01"], "status": "changed", "restarted": False, "shutdown": "none",
         "after": {"ScsiControllers": 1}},
        {"id": ids["DB01"], "status": "changed", "restarted": True, "shutdown": "completed",
         "after": {"ScsiControllers": 1}},
        {"id": ids["DB02"], "status": "changed", "restarted": False, "shutdown": "unfinished", "state": "Running",
         "after": {"ScsiControllers": 0},
         "reason": "'DB02' was asked to shut down and is still Running after 300 s and 300 s of grace"},
        {"id": ids["DB03"], "status": "failed", "restarted": False, "shutdown": "refused",
         "after": {"ScsiControllers": 0}, "error": "'DB03' did not shut down: locked; it is left Running"},
    ]}
    final = planner.merge(plan, applied)
    entries = {e["name"]: e for e in final["vms"]}
    assert (entries["DB01"]["restarted"], entries["DB01"]["shutdown"]) == (True, "completed")
    assert entries["DB02"]["status"] == "changed" and entries["DB02"]["shutdown"] == "unfinished"
    assert entries["DB02"]["after"] == {"ScsiControllers": 0} and "still Running" in entries["DB02"]["msg"]
    assert entries["DB03"]["status"] == "failed" and entries["DB03"]["shutdown"] == "refused"
    assert "shutdown" not in entries["APP01"]   # never chosen for a restart
    assert final["counts"] == {"selected": 4, "changed": 3, "ok": 0, "pending": 0, "failed": 1,
                               "restarted": 1, "shutdown_unfinished": 1}
    assert final["changed"] is True


def test_a_shut_down_that_was_sent_is_a_change_even_when_the_vm_then_failed():
    plan = planner.plan(facts(), options(running_vms="restart", vms=["DB01"]))
    applied = {"vms": [{"id": plan["vms"][0]["id"], "status": "failed", "restarted": True, "shutdown": "completed",
                        "after": {"ScsiControllers": 0},
                        "error": "adding a SCSI controller to 'DB01' failed: the disk is busy"}]}
    final = planner.merge(plan, applied)
    assert final["counts"]["changed"] == 0 and final["counts"]["failed"] == 1
    assert final["counts"]["restarted"] == 1
    assert final["changed"] is True


def test_a_refused_shut_down_changes_nothing():
    plan = planner.plan(facts(), options(running_vms="restart", vms=["DB01"]))
    applied = {"vms": [{"id": plan["vms"][0]["id"], "status": "failed", "restarted": False, "shutdown": "refused",
                        "after": {"ScsiControllers": 0}, "error": "'DB01' did not shut down: locked"}]}
    assert planner.merge(plan, applied)["changed"] is False


def test_a_module_that_failed_as_a_whole_keeps_what_it_reported():
    plan = planner.plan(facts(), options(running_vms="restart", vms=["APP01", "DB01"]))
    ids = {e["name"]: e["id"] for e in plan["vms"]}
    applied = {"failed": True, "msg": "scsi_controller: the Hyper-V PowerShell module is not available on HV01",
               "vms": [{"id": ids["APP01"], "status": "changed", "after": {"ScsiControllers": 1}}]}
    entries = {e["name"]: e for e in planner.merge(plan, applied)["vms"]}
    assert entries["APP01"]["status"] == "changed"
    assert entries["DB01"]["status"] == "failed"
    assert entries["DB01"]["msg"] == ("no result for this VM: the module failed on the host: scsi_controller: the "
                                      "Hyper-V PowerShell module is not available on HV01")


def test_a_vm_whose_controllers_could_not_be_read_is_pending():
    facts_ = facts()
    facts_["vms"][0]["ScsiControllers"] = None   # APP01, Off: would otherwise be changed
    plan = planner.plan(facts_, options(vms=["APP01"]))
    assert plan["operations"] == []
    assert plan["vms"][0]["status"] == "pending" and "could not be read" in plan["vms"][0]["msg"]
    assert plan["vms"][0]["before"] == plan["vms"][0]["after"] == {"ScsiControllers": None}


@pytest.mark.parametrize("grace, ok", [(0, True), (86400, True), (-1, False), (True, False), ("5", False)])
def test_shutdown_grace_is_checked(grace, ok):
    if ok:
        planner.check_options(options(shutdown_grace=grace))
    else:
        with pytest.raises(PlanError, match="shutdown_grace"):
            planner.check_options(options(shutdown_grace=grace))


def test_check_mode_result_is_the_plan():
    plan = planner.plan(facts(), options())
    final = planner.merge(plan, None)
    assert final["changed"] is True
    assert diff(final["vms"]) == {"before": {"APP01": {"ScsiControllers": 0}},
                                  "after": {"APP01": {"ScsiControllers": 1}}}
    assert final["counts"]["restarted"] == 0
    assert planner.module_args(plan, options(shutdown_timeout=60, shutdown_grace=30)) == {
        "operations": plan["operations"], "shutdown_timeout": 60, "shutdown_grace": 30}
