"""hyperv.backup.readiness and hyperv.backup.readiness_report: what in a cluster view would make a
host-level backup fail, with the evidence of the event logs; and the readiness report document rendered as
JSON, Markdown, HTML or JUnit XML."""
from datetime import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.hyperv.backup.plugins.plugin_utils import _report
from ansible_collections.hyperv.backup.plugins.plugin_utils._readiness import (
    PolicyError,
    evaluate,
    format_report,
    summarize,
    validate_policy,
)
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type, shown

FORMATS = ("json", "markdown", "html", "junit", "document")


def _view(name, view, argument=None):
    if not isinstance(view, dict) or not isinstance(view.get("vms"), list) or not isinstance(view.get("nodes"), dict):
        raise AnsibleFilterError(
            f"{name}: expected {f'{argument} to be ' if argument else ''}the output of hyperv.backup.cluster_view (a "
            f"mapping with vms and nodes), got {describe_type(view)}"
        )
    return view


def _now(name, now, key="now"):
    if now is None:
        return None
    try:
        moment = datetime.fromisoformat(str(now).replace("Z", "+00:00"))
    except ValueError:
        raise AnsibleFilterError(f"{name}: {key}={shown(now)} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise AnsibleFilterError(f"{name}: {key}={shown(str(now))} has no time zone; add Z or +hh:mm")
    return moment


def _evaluate(name, view, policy, now):
    _view(name, view)
    try:
        policy = validate_policy(policy)
    except PolicyError as err:
        raise AnsibleFilterError(f"{name}: {err}") from None
    return policy, evaluate(view, policy, _now(name, now))


def _readiness(view, policy=None, now=None):
    result = _evaluate("readiness", view, policy, now)[1]
    findings, checked = result["findings"], result["checked"]
    summary = summarize(findings, checked)
    return {"findings": findings, "checked": checked, "summary": summary,
            "lines": format_report(findings, summary, view)}


def _readiness_report(view, format="document", policy=None, now=None, before=None, title=_report.DEFAULT_TITLE,
                      generated=None, threshold="error"):
    if format not in FORMATS:
        raise AnsibleFilterError(f"readiness_report: format={shown(format)} is not one of {', '.join(FORMATS)}")
    if before is not None:
        _view("readiness_report", before, "before")
    if threshold not in _report.SEVERITIES:
        raise AnsibleFilterError(f"readiness_report: threshold={shown(threshold)} is not one of "
                                 f"{', '.join(_report.SEVERITIES)}")
    policy, result = _evaluate("readiness_report", view, policy, now)
    generated = _now("readiness_report", generated, "generated") or result["now"]
    try:
        document = _report.build_report(view, result["findings"], result["checked"], policy=policy,
                                        before_view=before, title=title, generated=generated)
    except _report.ReportError as err:
        raise AnsibleFilterError(f"readiness_report: {err}") from None
    if format == "document":
        return document
    if format == "junit":
        return _report.to_junit(document, threshold)
    return {"json": _report.to_json, "markdown": _report.to_markdown, "html": _report.to_html}[format](document)


class FilterModule:
    def filters(self):
        return {"readiness": _readiness, "readiness_report": _readiness_report}
