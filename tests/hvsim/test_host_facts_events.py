"""hvsim's host_facts events subset: Get-WinEvent -FilterHashtable as the .ps1 calls it, one call per log,
against the model's events (docs/hvsim.md, "Events")."""
import copy
import re
from datetime import datetime, timezone

import pytest
import yaml

from hvsim import model as hvsim_model
from hvsim import ops
from hvsim.model import ModelError
from hvsim.ops import Context
from hvsim.ops.host_facts import host_clock, host_facts

VMMS = "Microsoft-Windows-Hyper-V-VMMS-Admin"
WORKER = "Microsoft-Windows-Hyper-V-Worker-Admin"
VM_ID = "d9e0eb0a-5b37-508e-9173-67e9ade83acf"
OTHER_ID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"

MODEL = f"""
credentials: {{username: u, password: p}}
clock: '2026-11-20T06:00:00Z'
nodes:
  - name: HV01
    missing_event_logs: [{WORKER}]
    events:
      - {{log: {VMMS}, id: 10103, time: '2026-11-19T02:03:47Z', vm_id: {VM_ID},
          message: "  The virtual machine 'SQL01' cannot be hot backed up. (Virtual machine ID {VM_ID.upper()})  "}}
      - {{log: {VMMS}, id: 10103, time: '2026-11-18T02:04:02Z', message: "'SQL01' ... (Virtual machine ID {VM_ID.upper()})"}}
      - {{log: {VMMS}, id: 10103, time: '2026-11-02T02:00:00Z', vm_id: {VM_ID}, message: too old}}
      - {{log: {VMMS}, id: 10104, time: '2026-11-19T03:00:00Z', message: not asked for}}
      - {{log: {VMMS}, id: 19100, time: 2026-11-19T02:39:55Z, level: 3, vm_id: {OTHER_ID}, message: merge failed}}
      - {{log: Application, provider: VSS, id: 8194, time: '2026-11-19T02:00:33Z',
          message: "hr = 0x80070005 Writer Instance ID: {{{OTHER_ID}}}"}}
      - {{log: application, provider: SomethingElse, id: 8194, time: '2026-11-19T02:00:34Z', message: another source}}
  - name: HV02
"""

QUERIES = [
    {"log_name": VMMS, "provider_name": None, "ids": [10102, 10103, 19100], "names_vm": True},
    {"log_name": WORKER, "provider_name": None, "ids": [18590], "names_vm": True},
    {"log_name": "Application", "provider_name": "VSS", "ids": [8193, 8194, 12289], "names_vm": False},
]


@pytest.fixture
def data():
    return hvsim_model.validate(yaml.safe_load(MODEL))


def read(data, node="HV01", **params):
    params.setdefault("gather_subset", ["events"])
    params.setdefault("event_queries", copy.deepcopy(QUERIES))
    ctx = Context(node=node, data=data)
    facts = host_facts(ctx, params)["ansible_facts"]["hyperv_backup"]
    return facts, ctx


def test_each_log_is_filtered_by_ids_provider_and_start_time_newest_first(data):
    facts, ctx = read(data)
    assert ctx.warnings == []
    assert [(e["LogName"], e["Id"], e["TimeCreated"]) for e in facts["events"]] == [
        (VMMS, 19100, "2026-11-19T02:39:55Z"), (VMMS, 10103, "2026-11-19T02:03:47Z"),
        (VMMS, 10103, "2026-11-18T02:04:02Z"), ("Application", 8194, "2026-11-19T02:00:33Z")]
    first = facts["events"][1]
    assert first == {"LogName": VMMS, "ProviderName": "Microsoft-Windows-Hyper-V-VMMS", "Id": 10103, "Level": 2,
                     "TimeCreated": "2026-11-19T02:03:47Z", "VMId": VM_ID,
                     "Message": f"The virtual machine 'SQL01' cannot be hot backed up. (Virtual machine ID {VM_ID.upper()})"}
    assert facts["events"][0]["Level"] == 3
    logs = facts["event_logs"]
    assert (logs["days"], logs["since"], logs["until"], logs["max_per_log"]) == (
        7, "2026-11-13T06:00:00Z", "2026-11-20T06:00:00Z", 200)
    assert [(log["log"], log["status"], log["count"], log["truncated"]) for log in logs["logs"]] == [
        (VMMS, "read", 3, False), (WORKER, "missing", 0, False), ("Application", "read", 1, False)]


def test_the_vm_id_comes_from_the_property_then_the_message_and_only_for_hyper_v_logs(data):
    facts, _ = read(data)
    by_time = {e["TimeCreated"]: e for e in facts["events"]}
    assert by_time["2026-11-18T02:04:02Z"]["VMId"] == VM_ID        # from the message
    assert by_time["2026-11-19T02:39:55Z"]["VMId"] == OTHER_ID     # the property
    assert by_time["2026-11-19T02:00:33Z"]["VMId"] is None          # a VSS event names no VM, whatever GUID it holds


def test_a_vm_named_like_a_guid_is_not_taken_for_its_id(data):
    data["nodes"][0]["events"][1]["message"] = f"'{OTHER_ID}' ... (Virtual machine ID {VM_ID.upper()})"
    facts, _ = read(data)
    assert facts["events"][2]["VMId"] == VM_ID  # the last GUID of the message: Hyper-V ends with the ID


def test_days_and_the_cap_per_log(data):
    facts, _ = read(data, events_days=30)
    assert len([e for e in facts["events"] if e["LogName"] == VMMS]) == 4
    facts, _ = read(data, events_days=30, events_max=2)
    vmms = [e for e in facts["events"] if e["LogName"] == VMMS]
    assert [e["TimeCreated"] for e in vmms] == ["2026-11-19T02:39:55Z", "2026-11-19T02:03:47Z"]  # the newest
    log = facts["event_logs"]["logs"][0]
    assert (log["count"], log["truncated"]) == (2, True)
    assert facts["event_logs"]["logs"][2]["truncated"] is False


def test_no_matching_event_is_an_empty_answer(data):
    data["nodes"][0]["events"] = []
    facts, ctx = read(data)
    assert facts["events"] == [] and ctx.warnings == []
    assert [log["status"] for log in facts["event_logs"]["logs"]] == ["read", "missing", "read"]


def test_a_log_that_fails_is_that_log_s_failure_and_the_others_are_read(data):
    data["faults"] = {"cmdlets": [{"cmdlet": "Get-WinEvent", "node": "HV01", "after": 2,
                                   "message": "Attempted to perform an unauthorized operation."}]}
    facts, ctx = read(data)
    assert [(log["status"], log["error"]) for log in facts["event_logs"]["logs"]] == [
        ("read", None), ("missing", None), ("failed", "Attempted to perform an unauthorized operation.")]
    assert [e["LogName"] for e in facts["events"]] == [VMMS] * 3
    assert ctx.warnings == ["host_facts: reading the event log 'Application' on HV01 failed, so its events are not "
                            "reported: Attempted to perform an unauthorized operation."]


def test_an_unreadable_event_is_left_out_and_its_log_is_partial(data):
    data["nodes"][0]["events"][0]["unreadable"] = "The description for the event could not be read."
    facts, ctx = read(data)
    log = facts["event_logs"]["logs"][0]
    assert (log["status"], log["count"], log["error"]) == ("partial", 2, "The description for the event could not be read.")
    assert ctx.warnings == ["host_facts: 1 error(s) reading the event log 'Microsoft-Windows-Hyper-V-VMMS-Admin' on "
                            "HV01; an event that could not be read is left out: The description for the event could "
                            "not be read."]


def test_a_long_message_is_cut(data):
    data["nodes"][0]["events"][0]["message"] = "x" * 2500
    facts, _ = read(data)
    assert facts["events"][1]["Message"] == "x" * 2000 + "..."


def test_nothing_is_asked_without_the_subset_or_the_queries(data):
    facts, _ = read(data, gather_subset=["vss_access_control"])
    assert "events" not in facts and "event_logs" not in facts
    facts, _ = read(data, event_queries=[])
    assert facts["events"] == [] and facts["event_logs"]["logs"] == []


def test_the_hosts_clock_is_the_model_s_or_the_real_time(data):
    assert host_clock(data) == datetime(2026, 11, 20, 6, tzinfo=timezone.utc)
    del data["clock"]
    before = datetime.now(timezone.utc)
    assert before <= host_clock(data) <= datetime.now(timezone.utc)


def test_through_the_argument_spec(data):
    ops.load_all()
    result = ops.run("host_facts", "HV01", data, {"gather_subset": ["events"], "event_queries": QUERIES,
                                                  "events_days": 2})  # since 2026-11-18T06:00:00Z
    assert result.get("failed") is not True, result
    assert [e["TimeCreated"] for e in result["ansible_facts"]["hyperv_backup"]["events"]] == [
        "2026-11-19T02:39:55Z", "2026-11-19T02:03:47Z", "2026-11-19T02:00:33Z"]
    result = ops.run("host_facts", "HV01", data, {"gather_subset": ["events"], "events_days": 0})
    assert result["failed"] is True and "events_days (0) and events_max (200) must be at least 1" in result["msg"]
    result = ops.run("host_facts", "HV01", data, {"gather_subset": ["events"], "event_queries": [{"ids": [1]}]})
    assert result["failed"] is True and "log_name" in result["msg"]


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(clock="yesterday"), "clock must be an ISO 8601 time with a zone"),
    (lambda d: d.update(clock="2026-11-20T06:00:00"), "clock must be an ISO 8601 time with a zone"),
    (lambda d: d["nodes"][0]["events"][0].update(when="x"), "events[0]: unknown key 'when'"),
    (lambda d: d["nodes"][0]["events"][0].update(id="10103"), "events[0].id must be int"),
    (lambda d: d["nodes"][0]["events"][0].pop("time"), "events[0] needs 'time'"),
    (lambda d: d["nodes"][0]["events"][0].update(time="last night"), "events[0].time must be an ISO 8601 time"),
    (lambda d: d["nodes"][0].update(events={"log": VMMS}), "events must be a list of mappings"),
    (lambda d: d["nodes"][0].update(missing_event_logs=VMMS), "missing_event_logs must be a list of event log names"),
])
def test_the_model_s_events_are_validated(change, message):
    data = yaml.safe_load(MODEL)
    change(data)
    with pytest.raises(ModelError, match=re.escape(message)):
        hvsim_model.validate(data)
