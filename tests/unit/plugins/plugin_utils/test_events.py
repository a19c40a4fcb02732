"""The events catalogue and matching (``_events``); evidence as findings get it is in test_readiness."""
import re

import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils import _events
from ansible_collections.hyperv.backup.plugins.plugin_utils._readiness import evaluate
from tests.unit.plugins.plugin_utils.test_readiness import NOW, everything


def test_what_the_host_reads_is_what_the_catalogue_explains():
    asked = {(query["log_name"], event_id) for query in _events.EVENT_LOGS for event_id in query["ids"]}
    explained = {(_events.SOURCES[source]["log"], code) for source, code in _events.CATALOGUE
                 if source not in _events.CODE_SOURCES}
    assert asked == explained


def test_every_check_the_catalogue_names_exists():
    checks = set(evaluate(everything(), {"vss_accounts": ["LAB\\svc-veeam"]}, NOW)["checked"])
    named = {entry["check"] for entry in _events.CATALOGUE.values() if entry["check"]}
    assert named <= checks, named - checks


def test_event_queries_are_fresh_copies():
    first = _events.event_queries()
    first[0]["ids"].append(1)
    assert _events.event_queries()[0]["ids"] == [10102, 10103, 19100]


@pytest.mark.parametrize("message, code, carries", [
    ("Error code: '32768'. Failed to create checkpoint on collection", 32768, True),
    ("Error code: \u201832775\u2019.", 32775, True),
    ("failed (32770).", 32770, True),
    ("32768 MB of memory", 32768, False),
    ("code 132768'", 32768, False),
    ("hr = 0x800423f4", "0x800423F4", True),
    ("hr = 0x80070005", "0x800423F4", False),
])
def test_codes_a_message_carries(message, code, carries):
    source = "HRESULT" if isinstance(code, str) else "Hyper-V WMI job"
    event = {"ProviderName": "Microsoft-Windows-Hyper-V-VMMS", "Id": 10102, "Message": message}
    assert _events.matches(event, [{"source": source, "id": code}]) is carries


def test_an_event_matches_its_provider_and_id_only():
    event = {"LogName": "Application", "ProviderName": "VSS", "Id": 8194, "Message": ""}
    assert _events.matches(event, [{"source": "VSS", "id": 8194}])
    assert not _events.matches(event, [{"source": "Hyper-V-VMMS", "id": 8194}])
    assert not _events.matches(dict(event, ProviderName="Other"), [{"source": "VSS", "id": 8194}])
    assert _events.source_of({"LogName": "Application", "ProviderName": None}) == "VSS"


@pytest.mark.parametrize("days, maximum, message", [
    (0, 10, "events_days 0 is out of range; give 1 to 365 days"),
    (True, 10, "events_days True is out of range"),
    (7, 10001, "events_max 10001 is out of range; give 1 to 10000 events per log"),
])
def test_events_options_are_checked(days, maximum, message):
    with pytest.raises(_events.EventsOptionError, match=re.escape(message)):
        _events.check_events_options(days, maximum)
    assert _events.check_events_options(365, 1) == (365, 1)


def test_describe_an_unknown_event():
    about = _events.describe({"ProviderName": "X", "Id": 1, "Message": "nothing"})
    assert about["check"] is None and "no explanation" in about["meaning"]
