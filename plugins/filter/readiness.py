"""hyperv.backup.readiness: what in a cluster view would make a host-level backup fail."""
from datetime import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.hyperv.backup.plugins.plugin_utils._readiness import (
    PolicyError,
    assess,
    format_report,
    summarize,
    validate_policy,
)
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type, shown


def _readiness(view, policy=None, now=None):
    if not isinstance(view, dict) or "vms" not in view or "nodes" not in view:
        raise AnsibleFilterError(
            f"readiness: expected the output of hyperv.backup.cluster_view (a mapping with vms and nodes), "
            f"got {describe_type(view)}"
        )
    try:
        policy = validate_policy(policy)
    except PolicyError as err:
        raise AnsibleFilterError(f"readiness: {err}") from None
    if now is not None:
        try:
            now = datetime.fromisoformat(str(now).replace("Z", "+00:00"))
        except ValueError:
            raise AnsibleFilterError(f"readiness: now={shown(now)} is not an ISO 8601 time") from None
        if now.tzinfo is None:
            raise AnsibleFilterError(f"readiness: now={shown(str(now))} has no time zone; add Z or +hh:mm")
    findings = assess(view, policy, now)
    summary = summarize(findings)
    return {"findings": findings, "summary": summary, "lines": format_report(findings, summary, view)}


class FilterModule:
    def filters(self):
        return {"readiness": _readiness}
