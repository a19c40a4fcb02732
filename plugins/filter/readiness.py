"""hyperv.backup.readiness: what in a cluster view would make a host-level backup fail."""
from datetime import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.hyperv.backup.plugins.plugin_utils._readiness import (
    DEFAULT_POLICY,
    assess,
    format_report,
    summarize,
)


def _readiness(view, policy=None, now=None):
    if not isinstance(view, dict) or "vms" not in view or "nodes" not in view:
        raise AnsibleFilterError(f"readiness: expected the output of hyperv.backup.cluster_view, got {type(view).__name__}")
    policy = dict(policy or {})
    unknown = sorted(set(policy) - set(DEFAULT_POLICY))
    if unknown:
        raise AnsibleFilterError(f"readiness: unknown policy keys {', '.join(unknown)}; known: {', '.join(DEFAULT_POLICY)}")
    if now is not None:
        try:
            now = datetime.fromisoformat(str(now).replace("Z", "+00:00"))
        except ValueError:
            raise AnsibleFilterError(f"readiness: now={now!r} is not an ISO 8601 time") from None
    findings = assess(view, policy, now)
    summary = summarize(findings)
    return {"findings": findings, "summary": summary, "lines": format_report(findings, summary, view)}


class FilterModule:
    def filters(self):
        return {"readiness": _readiness}
