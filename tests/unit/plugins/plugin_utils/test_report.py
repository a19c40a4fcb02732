import copy
import html
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest
from junitparser import JUnitXml
from markdown_it import MarkdownIt

from ansible_collections.hyperv.backup.plugins.plugin_utils import _report
from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view
from ansible_collections.hyperv.backup.plugins.plugin_utils._readiness import evaluate, format_report, summarize
from tests.htmldom import Dom, figure
from tests.unit.factsdata import node, vm

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
HOSTILE_HTML = "<img src=x onerror=alert(1)>"
HOSTILE_MD = "A|B*`c`_[x](y) <script>alert(1)</script> &amp;"
CONTROL = "BAD\x00\x07\x1b[31mVM\udc80"


def small_view(*extra_vms):
    """HV01 owns Volume1, HV02 owns Volume2. WEB01 has Standard checkpoints; the hostile-named VM runs on HV01
    but lives on Volume2; the Markdown-hostile VM has no SCSI controller and is off; SQL01 is fine."""
    hv01 = [vm("WEB01", CheckpointType="Standard"), vm(HOSTILE_HTML, volume=2),
            vm(HOSTILE_MD, Generation=1, ScsiControllers=[], node_state="Off")] + list(extra_vms)
    return cluster_view([node("HV01", hv01), node("HV02", [vm("SQL01", volume=2)])])


def small_report(view=None, **kwargs):
    view = view or small_view()
    result = evaluate(view, kwargs.get("policy"), NOW)
    kwargs.setdefault("generated", NOW)
    return _report.build_report(view, result["findings"], result["checked"], **kwargs)


def new_finding(check, code, severity, name, kind="vm", node_name="HV01", **extra):
    finding = {"check": check, "code": code, "severity": severity,
               "object": {"kind": kind, "name": name, "id": None, "node": node_name},
               "target": name, "node": node_name, "message": f"{code} on {name}", "impact": f"impact of {code}",
               "errors": [], "fix": {"text": f"fix {code}", "module": None, "role": None, "command": None}, "evidence": None}
    finding.update(extra)
    return finding


# --- the document -------------------------------------------------------------------------------------

def test_placement_snapshot_says_where_each_vm_runs_and_lives():
    snapshot = _report.placement_snapshot(small_view())
    assert snapshot["nodes"] == ["HV01", "HV02"]
    assert snapshot["volumes"] == [{"name": "Cluster Disk 1", "owner": "HV01"}, {"name": "Cluster Disk 2", "owner": "HV02"}]
    by_name = {v["name"]: v for v in snapshot["vms"]}
    assert by_name[HOSTILE_HTML] == {"name": HOSTILE_HTML, "id": by_name[HOSTILE_HTML]["id"], "node": "HV01",
                                     "volume": "Cluster Disk 2", "on_owner": False, "state": "Running"}
    assert by_name["SQL01"]["on_owner"] is True and by_name["SQL01"]["node"] == "HV02"
    assert by_name[HOSTILE_MD]["state"] == "Off"
    assert [v["name"] for v in snapshot["vms"]] == sorted(by_name, key=str.casefold)


def test_placement_of_stand_alone_hosts_has_no_volumes():
    view = cluster_view([node("HOST1", [vm("LOCAL1")], cluster=False)])
    snapshot = _report.placement_snapshot(view)
    assert snapshot["nodes"] == ["HOST1"] and snapshot["volumes"] == []
    assert snapshot["vms"][0]["volume"] is None and snapshot["vms"][0]["on_owner"] is None
    report = _report.build_report(view, [], generated=NOW)
    assert report["cluster"] == {"name": None, "nodes": [{"name": "HOST1", "state": None, "reporting": True}],
                                 "volumes": [], "vm_count": 1}
    assert "not on a CSV" in _report.to_html(report)


def test_report_document_structure():
    report = small_report(policy={"vss_accounts": ["LAB\\svc-veeam"]})
    assert list(report) == ["title", "generated", "cluster", "policy", "summary", "findings", "checked", "placement"]
    assert report["generated"] == "2026-11-23T12:00:00Z"
    assert report["cluster"]["name"] == "HVC01" and report["cluster"]["vm_count"] == 4
    assert report["cluster"]["nodes"] == [{"name": "HV01", "state": "Up", "reporting": True},
                                          {"name": "HV02", "state": "Up", "reporting": True}]
    assert report["cluster"]["volumes"][1] == {"name": "Cluster Disk 2", "path": "C:\\ClusterStorage\\Volume2",
                                               "owner": "HV02", "state": "Online"}
    assert report["policy"] == {"vss_accounts": ["LAB\\svc-veeam"]}
    assert report["summary"]["total"] == 3
    assert report["summary"]["by_severity"] == {"error": 2, "warning": 1, "info": 0}
    assert report["summary"]["by_check"] == {"checkpoint_type": 1, "csv_placement": 1, "scsi_controller": 1}
    assert report["placement"]["after"] is None
    assert report["placement"]["before"] == _report.placement_snapshot(small_view())
    assert list(report["findings"][0]) == ["check", "code", "severity", "object", "target", "node", "message",
                                           "impact", "errors", "fix", "evidence"]


def test_findings_are_sorted_by_severity_check_and_object_name():
    view = small_view()
    findings = [new_finding("b_check", "b_check.x", "info", "zeta"),
                new_finding("a_check", "a_check.x", "warning", "Beta"),
                new_finding("b_check", "b_check.x", "error", "alpha"),
                new_finding("a_check", "a_check.x", "error", "Zulu"),
                new_finding("a_check", "a_check.x", "error", "bravo")]
    report = _report.build_report(view, findings, generated=NOW)
    assert [(f["severity"], f["check"], f["object"]["name"]) for f in report["findings"]] == [
        ("error", "a_check", "bravo"), ("error", "a_check", "Zulu"), ("error", "b_check", "alpha"),
        ("warning", "a_check", "Beta"), ("info", "b_check", "zeta")]


def test_checked_lists_every_object_evaluated_and_those_with_findings():
    view = small_view()
    report = _report.build_report(view, [new_finding("scsi_controller", "scsi_controller.missing", "error", "GHOST")],
                                  {"scsi_controller": ["web01", "SQL01"], "vss_writer": []}, generated=NOW)
    assert report["checked"] == {"scsi_controller": ["GHOST", "SQL01", "web01"], "vss_writer": []}
    assert report["summary"]["checks"] == 3 and report["summary"]["passed"] == 2


def test_the_findings_engine_gives_the_documented_shape_and_every_object_it_checked():
    view = small_view()
    result = evaluate(view, None, NOW)
    report = _report.build_report(view, result["findings"], result["checked"], generated=NOW)
    scsi = next(f for f in report["findings"] if f["check"] == "scsi_controller")
    assert scsi["code"] == "scsi_controller.missing"
    assert scsi["object"] == {"kind": "vm", "name": HOSTILE_MD, "id": vm(HOSTILE_MD)["Id"], "node": "HV01"}
    assert scsi["errors"] == [{"source": "Hyper-V-VMMS", "id": 10103}]
    assert scsi["fix"]["module"] == "hyperv.backup.scsi_controller"
    assert scsi["evidence"] is None
    names = sorted((v["Name"] for v in view["vms"]), key=str.casefold)
    assert report["checked"]["checkpoint_type"] == names
    assert report["checked"]["node_state"] == ["HV01", "HV02"]
    assert "vss_access_control" not in report["checked"]  # no account named: not checked


def test_a_finding_without_an_object_is_refused_naming_it():
    with pytest.raises(_report.ReportError, match=r"finding 0 \(scsi_controller\) has no object name"):
        _report.build_report(small_view(), [{"check": "scsi_controller", "severity": "error", "target": "X"}],
                             generated=NOW)


def test_building_a_report_leaves_the_findings_for_the_text_report_as_they_were():
    view = small_view()
    findings = evaluate(view, None, NOW)["findings"]
    kept = copy.deepcopy(findings)
    _report.build_report(view, findings, generated=NOW)
    assert findings == kept
    lines = format_report(findings, summarize(findings), view)
    assert any("WEB01 on HV01: checkpoint type is Standard" in line for line in lines)
    assert lines[-1] == "3 findings: 2 errors, 1 warnings, 0 info"


def test_evidence_is_normalized_newest_event_first():
    evidence = {"seen": True, "count": 2, "first": datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc), "last": "2026-11-22T02:00:00+00:00",
                "events": [{"log": "Application", "id": 8194, "time": "2026-11-20T02:00:00Z", "node": "HV01", "message": "older"},
                           {"log": "Application", "id": 8194, "time": "2026-11-22T02:00:00Z", "node": "HV01", "message": "newer"}]}
    report = _report.build_report(small_view(), [new_finding("vss_access_control", "vss_access_control.missing", "error",
                                                             "HV01", kind="node", evidence=evidence, fix="set it")], generated=NOW)
    [finding] = report["findings"]
    assert finding["evidence"]["first"] == "2026-11-20T02:00:00Z" and finding["evidence"]["last"] == "2026-11-22T02:00:00Z"
    assert [e["message"] for e in finding["evidence"]["events"]] == ["newer", "older"]
    assert finding["fix"] == {"text": "set it", "module": None, "role": None, "command": None}
    assert _report.evidence_text(finding["evidence"]) == "seen 2 times, 2026-11-20 02:00 UTC to 2026-11-22 02:00 UTC"
    assert _report.evidence_text(None) == "events not read"
    assert _report.evidence_text({"seen": False, "count": 0}) == "not seen in the events read"
    assert _report.evidence_text({"seen": True, "count": 1, "last": "2026-11-22T02:00:00Z"}) == "seen once, 2026-11-22 02:00 UTC"


@pytest.mark.parametrize("call, message", [
    (lambda: _report.build_report({"vms": []}, []), "view must be the output of hyperv.backup.cluster_view, got a mapping"),
    (lambda: _report.build_report(small_view(), "nope"), "findings must be a list, got a string"),
    (lambda: _report.build_report(small_view(), [], before_view=[]), "before_view must be the output of hyperv.backup.cluster_view, got a list"),
    (lambda: _report.build_report(small_view(), [], generated="yesterday"), "generated='yesterday' is not an ISO 8601 time"),
    (lambda: _report.build_report(small_view(), [], policy=["x"]), "policy must be a mapping, got a list"),
    (lambda: _report.build_report(small_view(), [new_finding("c", "c.x", "fatal", "A")]), "finding 0 (c) has severity 'fatal'"),
    (lambda: _report.build_report(small_view(), [new_finding("c", "c.x", "error", "A", kind="disk")]), "finding 0 (c) has object kind 'disk'"),
    (lambda: _report.build_report(small_view(), [new_finding("c", "c.x", "error", "")]), "finding 0 (c) has no object name"),
    (lambda: _report.build_report(small_view(), [new_finding("c", "c.x", "error", "A", evidence=[1])]), "finding 0 evidence must be a mapping"),
    (lambda: _report.build_report(small_view(), [new_finding("c", "c.x", "error", "A", evidence={"seen": True, "count": "3"})]),
     "finding 0 evidence count must be a number, got '3'"),
    (lambda: _report.build_report(small_view(), [], checked={"c": "A"}), "checked['c'] must be a list of object names, got a string"),
    (lambda: _report.to_junit(small_report(), threshold="fatal"), "threshold 'fatal' is not one of error, warning, info"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(_report.ReportError, match=None) as caught:
        call()
    assert message in str(caught.value)


# --- JSON ---------------------------------------------------------------------------------------------

def test_json_is_stable_utf8_and_round_trips():
    report = small_report()
    text = _report.to_json(report)
    assert json.loads(text) == report
    assert text == _report.to_json(json.loads(text))
    assert text.index('"title"') < text.index('"generated"') < text.index('"findings"') < text.index('"placement"')
    report["title"] = "Sicherung: Größe ✓"
    assert "Sicherung: Größe ✓" in _report.to_json(report)


def test_json_writes_times_as_iso_and_escapes_lone_surrogates():
    report = small_report()
    report["extra"] = {"when": datetime(2026, 11, 23, 13, 0, tzinfo=timezone.utc), "name": "bad\udc80name"}
    text = _report.to_json(report)
    text.encode("utf-8")  # would raise on a lone surrogate
    data = json.loads(text)
    assert data["extra"] == {"when": "2026-11-23T13:00:00Z", "name": "bad\udc80name"}


# --- Markdown -----------------------------------------------------------------------------------------

def test_markdown_has_the_summary_and_findings_grouped_by_severity_then_check():
    text = _report.to_markdown(small_report())
    assert text.startswith("# Hyper-V backup readiness\n\nCluster HVC01 · 2 nodes · 2 CSVs · 4 VMs · generated 2026-11-23 12:00 UTC")
    assert "**Not ready: 2 errors will make backups fail**" in text
    assert "| Errors | 2 |" in text and "| Warnings | 1 |" in text and "| **Total** | **3** |" in text
    assert "| `checkpoint_type` | 1 | 0 | 0 | 4 | 3 |" in text
    assert text.index("## Errors (2)") < text.index("### `checkpoint_type` (1)") < text.index("### `scsi_controller` (1)") \
        < text.index("## Warnings (1)") < text.index("### `csv_placement` (1)") < text.index("## Placement")
    assert "- **WEB01** (vm, on HV01) `checkpoint_type.not_compliant`: checkpoint type is Standard" in text
    assert "  - Fix: hyperv.backup.scsi\\_controller (the VM must be off to add one); module `hyperv.backup.scsi_controller`" in text
    assert "  - Evidence: events not read" in text
    assert "VMs off their CSV owner: 1 of 4." in text


def test_markdown_shows_evidence_events_and_commands():
    evidence = {"seen": True, "count": 1, "first": "2026-11-22T02:00:00Z", "last": "2026-11-22T02:00:00Z",
                "events": [{"log": "Microsoft-Windows-Hyper-V-VMMS-Admin", "id": 19100, "time": "2026-11-22T02:00:00Z",
                            "node": "HV02", "message": "background disk merge failed"}]}
    finding = new_finding("vhd_set_acl", "vhd_set_acl.missing_full_control", "error", "C:\\CS\\GC", kind="folder",
                          evidence=evidence, errors=[{"source": "Hyper-V-VMMS", "id": 19100}],
                          fix={"text": "grant it", "command": "icacls \"C:\\CS\\GC\" /grant *S-1-5-83-1-1-2-3-4:(OI)F"})
    text = _report.to_markdown(_report.build_report(small_view(), [finding], generated=NOW))
    assert "  - Impact: impact of vhd\\_set\\_acl.missing\\_full\\_control (leads to Hyper-V-VMMS 19100)" in text
    assert '  - Command: `icacls "C:\\CS\\GC" /grant *S-1-5-83-1-1-2-3-4:(OI)F`' in text
    assert "  - Evidence: seen once, 2026-11-22 02:00 UTC" in text
    assert "    - 2026-11-22 02:00 UTC HV02 Microsoft-Windows-Hyper-V-VMMS-Admin 19100: background disk merge failed" in text


def test_markdown_names_cannot_break_tables_or_inject_markup():
    view = small_view()
    report = small_report(view)
    report["findings"].append(new_finding("vss_writer", "vss_writer.not_stable", "warning", "HV01",
                                          kind="node", message="line one\nline two | `tick` " + CONTROL))
    text = _report.to_markdown(report)
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    dom = Dom(rendered)
    assert dom.find("script") == [] and dom.find("img") == [] and dom.find("a") == []
    assert HOSTILE_HTML in dom.text and HOSTILE_MD in dom.text
    # every table row has as many cells as its header: no name split a cell
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    widths, row = [], 0
    for token in tokens:
        if token.type == "tr_open":
            row = 0
        elif token.type in ("td_open", "th_open"):
            row += 1
        elif token.type == "tr_close":
            widths.append(row)
        elif token.type == "table_close":
            assert len(set(widths)) == 1, widths
            widths = []
    assert "| &lt;img src=x onerror=alert(1)&gt; | HV01 | Cluster Disk 2 | HV02 |" in text
    # control characters are shown, line breaks do not end the list item
    assert "line one line two \\| \\`tick\\` BAD\\\\x00\\\\x07\\\\x1b\\[31mVM\\\\udc80" in text
    assert "\x00" not in text and "\x1b" not in text


def test_markdown_code_span_holds_backticks():
    assert _report._md_code("a`b") == "``a`b``"
    assert _report._md_code("`x`") == "`` `x` ``"
    assert _report._md_code("a|b", table=True) == "`a\\|b`"


# --- HTML ---------------------------------------------------------------------------------------------

def test_html_is_one_self_contained_page():
    page = _report.to_html(small_report())
    dom = Dom(page)
    assert page.startswith("<!DOCTYPE html>")
    assert dom.find("script") == [] and dom.find("link") == [] and dom.find("img") == [] and dom.find("iframe") == []
    assert "http://" not in page and "https://" not in page and "url(" not in page
    assert [a["content"] for a in dom.find("meta") if a.get("http-equiv") == "Content-Security-Policy"] == [
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:"]
    assert len(dom.find("style")) == 1 and len(dom.find("svg", "placement")) == 1 + 5  # the picture and the legend's icons
    assert "moved by this run" not in dom.text  # a report of one moment has no run


def test_html_has_summary_findings_by_severity_and_the_checks():
    report = small_report()
    dom = Dom(_report.to_html(report))
    text = dom.text
    assert "Not ready: 2 errors will make backups fail" in text
    cards = [a["class"] for a in dom.find("div", "card")]
    assert cards == ["card error", "card warning", "card info zero", "card passed"]
    assert [a["id"] for a in dom.find("article", "group")] == [
        "checkpoint_type.not_compliant", "scsi_controller.missing", "csv_placement.off_owner"]
    assert [r["data-check"] for r in dom.find("tr", "finding")] == ["checkpoint_type", "scsi_controller", "csv_placement"]
    assert "the backup hot-adds a recovery disk to the running VM; without a SCSI controller it cannot" in text
    assert "Hyper-V-VMMS 10103" in text and "hyperv.backup.scsi_controllers" in text
    page = _report.to_html(report)
    assert page.index('<section class="severity error">') < page.index('<section class="severity warning">') \
        < page.index('<section id="placement">') < page.index('<section id="checks">')


def test_html_escapes_every_name():
    report = small_report()
    report["title"] = "</title><script>alert(1)</script>"
    report["findings"][0]["fix"]["command"] = 'icacls "x" </pre><b>bold</b>'
    page = _report.to_html(report)
    dom = Dom(page)
    assert dom.find("script") == [] and dom.find("img") == [] and dom.find("b") == []
    assert HOSTILE_HTML in dom.text and HOSTILE_MD in dom.text
    assert "</title><script>alert(1)</script>" in dom.text
    assert 'icacls "x" </pre><b>bold</b>' in dom.text
    assert "onerror" not in {key for _, attrs in dom.elements for key in attrs}


def test_html_shows_control_characters_instead_of_passing_them():
    view = small_view(dict(vm("ODD01"), Name=CONTROL))
    page = _report.to_html(small_report(view))
    assert "\x00" not in page and "\x1b" not in page and "\udc80" not in page
    assert html.escape("BAD\\x00\\x07\\x1b[31mVM\\udc80") in page
    page.encode("utf-8")


def test_html_evidence_lists_the_events():
    evidence = {"seen": True, "count": 2, "first": "2026-11-21T02:00:00Z", "last": "2026-11-22T02:00:00Z",
                "events": [{"log": "Application", "id": 8194, "time": f"2026-11-2{d}T02:00:00Z", "node": "HV01",
                            "message": f"VSS error\nday {d}"} for d in (1, 2)]}
    finding = new_finding("vss_access_control", "vss_access_control.missing", "error", "HV01", kind="node", evidence=evidence,
                          errors=[{"source": "VSS", "id": 8194}])
    page = _report.to_html(_report.build_report(small_view(), [finding], generated=NOW))
    dom = Dom(page)
    assert '<span class="seen">seen 2 times</span><span class="when">2026-11-21 02:00 UTC to 2026-11-22 02:00 UTC</span>' in page
    assert len(dom.find("li", "event")) == 2
    assert "2026-11-22 02:00 UTC HV01 Application 8194: VSS error\nday 2" in dom.text


def test_html_groups_share_impact_and_fix_or_show_them_per_row():
    view = small_view()
    same = [new_finding("c", "c.x", "error", name) for name in ("A", "B")]
    for finding in same:
        finding["fix"] = {"text": "one fix"}
    differ = [new_finding("d", "d.x", "warning", name, fix={"text": f"fix {name}"}) for name in ("C", "D")]
    page = _report.to_html(_report.build_report(view, same + differ, generated=NOW))
    assert page.count("one fix") == 1
    assert page.count('<div class="rowfix"><span class="label">Fix</span>fix C') == 1
    assert page.count('<div class="rowfix"><span class="label">Fix</span>fix D') == 1


def test_html_placement_marks_each_vm_in_its_node_and_volume_cell():
    page = _report.to_html(small_report())
    dom = figure(page, "now")
    marks = dom.find("circle", "vm")
    assert len(marks) == 4
    assert len(dom.find("circle", "off")) == 1 and len(dom.find("circle", "on")) == 3
    assert len(dom.find("circle", "stopped")) == 1
    slots = {(s["data-node"], s["data-volume"]): int(s["data-count"]) for s in dom.find("g", "slot")}
    assert slots == {("HV01", "Cluster Disk 1"): 2, ("HV02", "Cluster Disk 1"): 0,
                     ("HV01", "Cluster Disk 2"): 1, ("HV02", "Cluster Disk 2"): 1}
    assert len(dom.find("rect", "owner")) == 2
    assert f"{HOSTILE_HTML} · Running · runs on HV01, lives on Cluster Disk 2 (owner HV02)" in dom.text


def test_html_placement_before_and_after_side_by_side_marks_moved_vms():
    before = small_view()
    moved = [vm(HOSTILE_HTML, volume=2), vm("SQL01", volume=2)]
    after = cluster_view([node("HV01", [vm("WEB01", CheckpointType="Standard"),
                                        vm(HOSTILE_MD, Generation=1, ScsiControllers=[], node_state="Off")]),
                          node("HV02", moved)])
    report = _report.build_report(after, evaluate(after, None, NOW)["findings"], before_view=before, generated=NOW)
    assert report["placement"]["before"] == _report.placement_snapshot(before)
    assert report["placement"]["after"] == _report.placement_snapshot(after)
    page = _report.to_html(report)
    assert page.index('data-moment="before"') < page.index('data-moment="after"')
    before_dom, after_dom = figure(page, "before"), figure(page, "after")
    assert len(before_dom.find("circle", "off")) == 1 and len(after_dom.find("circle", "off")) == 0
    assert len(before_dom.find("circle", "moved")) == 0
    assert len(after_dom.find("circle", "moved")) == 1 and len(after_dom.find("circle", "ring")) == 1
    assert "moved from HV01" in after_dom.text and "moved by this run" in Dom(page).text
    assert "1 of 4 VMs off their CSV owner" in before_dom.text and "0 of 4 VMs off their CSV owner" in after_dom.text
    text = _report.to_markdown(report)
    assert "Before the run, VMs off their CSV owner: 1 of 4." in text and "After the run, VMs off their CSV owner: 0 of 4." in text


# --- JUnit --------------------------------------------------------------------------------------------

def junit_cases(text):
    xml = JUnitXml.fromstring(text)
    return xml, {(case.classname, case.name): case for suite in xml for case in suite}


def test_junit_one_case_per_check_and_object_errors_fail():
    report = small_report()
    text = _report.to_junit(report)
    xml, cases = junit_cases(text)
    assert [suite.name for suite in xml] == sorted(report["checked"])
    assert sum(suite.tests for suite in xml) == report["summary"]["checks"] == len(cases)
    assert sum(suite.failures for suite in xml) == 2 and sum(suite.skipped for suite in xml) == 0
    failure = cases[("checkpoint_type", "WEB01")].result[0]
    assert type(failure).__name__ == "Failure"
    assert failure.message.startswith("checkpoint type is Standard")
    assert failure.type == "checkpoint_type.not_compliant"
    assert "impact: the backup takes a saved-state" in failure.text
    assert "fix: hyperv.backup.checkpoint_type with checkpoint_type=Production" in failure.text
    assert "evidence: no event shows this" in failure.text  # a checkpoint type leads to no logged error
    assert "evidence: events not read" in cases[("scsi_controller", HOSTILE_MD)].result[0].text
    assert cases[("checkpoint_type", "SQL01")].result == []
    # below the threshold a warning passes and says why in system-out
    warned = cases[("csv_placement", HOSTILE_HTML)]
    assert warned.result == [] and "warning csv_placement.off_owner" in warned.system_out
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites" and root.get("tests") == str(len(cases)) and root.get("failures") == "2"


def test_junit_threshold_and_info_findings():
    view = small_view()
    findings = [new_finding("c", "c.err", "error", "A"), new_finding("c", "c.warn", "warning", "B"),
                new_finding("c", "c.info", "info", "C"), new_finding("c", "c.info", "info", "A")]
    report = _report.build_report(view, findings, {"c": ["A", "B", "C", "D"]}, generated=NOW)
    _, cases = junit_cases(_report.to_junit(report))
    assert type(cases[("c", "A")].result[0]).__name__ == "Failure"
    assert "(and 1 more)" in cases[("c", "A")].result[0].message
    assert "c.info on A" in cases[("c", "A")].result[0].text
    assert cases[("c", "B")].result == []
    assert type(cases[("c", "C")].result[0]).__name__ == "Skipped"
    assert cases[("c", "D")].result == [] and cases[("c", "D")].system_out is None

    xml, cases = junit_cases(_report.to_junit(report, threshold="warning"))
    assert [type(r).__name__ for r in cases[("c", "B")].result] == ["Failure"]
    assert sum(s.failures for s in xml) == 2 and sum(s.skipped for s in xml) == 1
    xml, cases = junit_cases(_report.to_junit(report, threshold="info"))
    assert sum(s.failures for s in xml) == 3 and sum(s.skipped for s in xml) == 0


def test_junit_is_valid_xml_for_any_name():
    view = small_view(dict(vm("ODD01", CheckpointType="Standard"), Name=CONTROL))
    report = small_report(view)
    text = _report.to_junit(report)
    root = ET.fromstring(text.encode("utf-8"))  # control characters would make this raise
    names = {case.get("name") for case in root.iter("testcase")}
    assert {HOSTILE_HTML, HOSTILE_MD, "BAD\\x00\\x07\\x1b[31mVM\\udc80"} <= names
    _, cases = junit_cases(text)
    assert type(cases[("checkpoint_type", "BAD\\x00\\x07\\x1b[31mVM\\udc80")].result[0]).__name__ == "Failure"


# --- a large cluster ----------------------------------------------------------------------------------

def large_view(vm_count=2000, node_count=8, csv_count=6):
    nodes = [f"HV{i + 1:02}" for i in range(node_count)]
    csvs = [{"Name": f"Cluster Disk {k + 1}", "OwnerNode": nodes[k % node_count], "State": "Online",
             "Path": f"C:\\ClusterStorage\\Volume{k + 1}"} for k in range(csv_count)]
    per_node = {name: [] for name in nodes}
    for i in range(vm_count):
        volume = i % csv_count
        home = nodes[volume % node_count] if i % 10 else nodes[(volume + 1) % node_count]  # every 10th off its owner
        per_node[home].append(vm(f"VM{i:04}", volume=volume + 1, CheckpointType="Standard" if i % 4 == 0 else "Production"))
    facts = []
    for name in nodes:
        data = node(name, per_node[name], csvs=csvs)
        data["cluster"]["Nodes"] = [{"Name": n, "State": "Up", "Id": str(j + 1)} for j, n in enumerate(nodes)]
        facts.append(data)
    return cluster_view(facts)


def test_a_large_report_stays_bounded_and_the_picture_counts_instead_of_marks():
    view = large_view()
    report = small_report(view)
    assert report["cluster"]["vm_count"] == 2000 and report["summary"]["total"] == 500 + 200
    page = _report.to_html(report)
    dom = figure(page, "now")
    assert dom.find("circle", "vm") == []  # aggregated: counts per cell, no mark per VM
    slots = dom.find("g", "slot")
    assert len(slots) == 8 * 6
    assert sum(int(s["data-count"]) for s in slots) == 2000
    assert "VM0001" in dom.text  # names stay available in the cells' tooltips
    assert len(dom.find("rect", "bar")) >= 6
    # long finding tables are folded after the first rows
    assert page.count('<details class="more">') == 2
    # bounded: a few hundred bytes per VM in every format
    assert len(page) < 200 * 2000
    assert len(_report.to_markdown(report)) < 200 * 2000
    junit = _report.to_junit(report)
    assert junit.count("<testcase ") == report["summary"]["checks"]
    assert len(junit) < 1000 * report["summary"]["checks"]


def test_a_cell_over_the_limit_switches_the_picture_to_counts():
    view = large_view(vm_count=_report.CELL_MARK_LIMIT + 1, node_count=1, csv_count=1)
    dom = figure(_report.to_html(small_report(view)), "now")
    assert dom.find("circle", "vm") == []
    assert [int(s["data-count"]) for s in dom.find("g", "slot")] == [_report.CELL_MARK_LIMIT + 1]
    view = large_view(vm_count=_report.CELL_MARK_LIMIT, node_count=1, csv_count=1)
    assert len(figure(_report.to_html(small_report(view)), "now").find("circle", "vm")) == _report.CELL_MARK_LIMIT


def test_many_small_cells_over_the_picture_limit_switch_to_counts_too():
    limit = _report.PICTURE_MARK_LIMIT
    view = large_view(vm_count=limit, node_count=24, csv_count=24)
    dom = figure(_report.to_html(small_report(view)), "now")
    assert max(int(s["data-count"]) for s in dom.find("g", "slot")) <= _report.CELL_MARK_LIMIT
    assert len(dom.find("circle", "vm")) == limit
    view = large_view(vm_count=limit + 1, node_count=24, csv_count=24)
    assert figure(_report.to_html(small_report(view)), "now").find("circle", "vm") == []


def test_the_policy_is_shown_escaped():
    report = small_report(policy={"vss_accounts": ["LAB\\svc-<b>x</b>"]})
    dom = Dom(_report.to_html(report))
    assert "The policy judged against" in dom.text
    assert '"LAB\\\\svc-<b>x</b>"' in dom.text and dom.find("b") == []
    assert 'Policy: `{"vss_accounts": ["LAB\\\\svc-<b>x</b>"]}`' in _report.to_markdown(report)
