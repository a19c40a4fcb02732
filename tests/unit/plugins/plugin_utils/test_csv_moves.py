"""Carrying out a plan: batches, dependencies, what a module run reports, progress lines, the task's result."""
import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils._csv_moves import MoveRun, batches, run_options
from ansible_collections.hyperv.backup.plugins.plugin_utils._csv_placement import PlacementError


def vm(name, to, depends_on=None, frm="HV01"):
    return {"kind": "vm", "name": name, "id": f"id-{name}", "from": frm, "to": to, "depends_on": depends_on}


def csv(name, to, frm="HV01"):
    return {"kind": "csv", "name": name, "id": name, "from": frm, "to": to}


PLAN = {"moves": [vm("A", "HV02"), csv("CD1", "HV03"), vm("B", "HV03", "CD1"), vm("C", "HV03", "CD1"),
                  vm("D", "HV02")], "deferred": [vm("E", "HV02")]}


@pytest.mark.parametrize("parallel, expected", [
    (1, [[0], [1], [2], [3], [4]]),
    (2, [[0, 1], [2, 3], [4]]),
    (3, [[0, 1], [2, 3, 4]]),  # B waits for the batch after CD1's
    (16, [[0, 1], [2, 3, 4]]),
])
def test_batches(parallel, expected):
    assert batches(PLAN["moves"], parallel) == expected


def test_a_vm_of_a_csv_that_failed_or_was_skipped_is_skipped_and_others_are_not():
    run = MoveRun(PLAN)
    assert run.skip_reason(2) is None
    run.record([1], {"moves": [{"status": "failed", "error": "nope", "owner": "HV01"}]}, "")
    assert run.skip_reason(2) == "it depends on the move of CD1 to HV03, which failed"
    assert run.skip_reason(4) is None
    ok = MoveRun(PLAN)
    ok.record([1], {"moves": [{"status": "ok", "owner": "HV03"}]}, "")
    assert ok.skip_reason(2) is None  # already there: its VMs go


def test_record_takes_each_reported_move_and_fails_the_unreported_ones():
    run = MoveRun(PLAN)
    whole = run.record([0, 1], {"failed": True, "msg": "boom", "moves": [{"status": "moved", "owner": "HV02",
                                                                          "method": "live", "seconds": 4.5}]}, "boom")
    assert whole is True
    assert run.entries[0]["status"] == "moved" and "error" not in run.entries[0]
    assert run.entries[1] == {**csv("CD1", "HV03"), "depends_on": None, "status": "failed", "method": None,
                              "seconds": None, "owner": None, "error": "the module failed on the host: boom"}
    assert run.record([4], {"moves": [{"status": "failed", "error": "x"}]}, "") is False  # a per-move failure


def test_progress_lines():
    run = MoveRun(PLAN)
    run.record([0, 1, 4], {"moves": [{"status": "moved", "method": "quick", "seconds": 12.25, "owner": "HV02"},
                                     {"status": "ok", "owner": "HV03"},
                                     {"status": "failed", "error": "The cluster node HV02 is Down."}]}, "")
    run.skip(2, "it depends on the move of CD1 to HV03, which failed")
    assert run.progress(0) == "csv_placement: [1/5] VM A HV01 -> HV02: moved (quick, 12.25 s)"
    assert run.progress(1) == "csv_placement: [2/5] CSV CD1 HV01 -> HV03: already on HV03"
    assert run.progress(2) == "csv_placement: [3/5] VM B HV01 -> HV03: SKIPPED: it depends on the move of CD1 to HV03, which failed"
    assert run.progress(4) == "csv_placement: [5/5] VM D HV01 -> HV02: FAILED: The cluster node HV02 is Down."
    assert run.counts() == {"planned": 5, "moved": 1, "ok": 1, "failed": 1, "skipped": 1, "deferred": 1}


def test_failure_message_and_diff():
    run = MoveRun(PLAN)
    assert run.failure_message() is None
    run.record([0], {"moves": [{"status": "moved", "owner": "HV02"}]}, "")
    run.record([4], {"moves": [{"status": "failed", "error": "Not enough memory on HV02.", "owner": "HV01"}]}, "")
    message = run.failure_message()
    assert message.startswith("csv_placement: 1 of 5 move(s) failed and 0 were skipped")
    assert "VM D HV01 -> HV02: Not enough memory on HV02." in message
    diff = run.diff(check_mode=False)
    assert diff["before"]["VM A"] == "HV01" and diff["after"]["VM A"] == "HV02"
    assert diff["after"]["VM D"] == "HV01"  # failed: still where it was
    assert diff["after"]["CSV CD1"] == "HV01"  # not attempted: the plan's from
    twins = MoveRun({"moves": [vm("X", "HV02"), dict(vm("X", "HV03"), id="id-X2")], "deferred": []})
    assert set(twins.diff(check_mode=True)["after"]) == {"VM X (id-X)", "VM X (id-X2)"}


def test_run_options():
    options, parallel, timeout = run_options({"strategy": "auto", "memory_headroom": " 1024 ", "parallel": 3,
                                              "timeout": 60, "exclude": []})
    assert options["memory_headroom"] == 1024 and (parallel, timeout) == (3, 60)
    assert run_options({"memory_headroom": "10%"})[0]["memory_headroom"] == "10%"
    with pytest.raises(PlacementError, match="parallel: 17 must be from 1 to 16"):
        run_options({"parallel": 17})
