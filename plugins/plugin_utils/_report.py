"""The readiness report: one document built from a cluster view and its findings, and four renderings of it.

Plain data in, text out; nothing here reads or writes files (the playbooks do).

A finding (what the findings engine, ``_readiness.evaluate``, produces)::

    check: scsi_controller            # the check, snake_case: one per kind of problem (the JUnit classname)
    code: scsi_controller.missing     # the specific condition, dotted
    severity: error | warning | info
    object: {kind: vm|node|cluster|folder|volume|writer|account|event, name: WEB01, id: <VM id> or null,
             node: HV01 or null}
    target: WEB01                     # = object.name (the text report uses it)
    node: HV01                        # or null
    message: what is wrong
    impact: why a backup fails because of it, naming the error it leads to
    errors: [{source: Hyper-V-VMMS, id: 10103}]      # the errors/events it leads to (may be empty: then no
                                                     # event shows it, whatever was read)
    fix: {text: one line, module: hyperv.backup.scsi_controller or null,
          role: hyperv.backup.scsi_controllers or null, command: the exact command where no module does, or null}
    evidence: null                    # the event logs were not read
              | {seen: bool, count: n, first: ISO time, last: ISO time,
                 events: [{log, id, time, node, message, vm_id}]}   # a few, newest first

The report document (:func:`build_report`)::

    title, generated (ISO 8601 UTC, ``2026-11-23T12:00:00Z``)
    cluster: {name (null for stand-alone hosts), nodes: [{name, state, reporting}],
              volumes: [{name, path, owner, state}], vm_count}
    policy: {...}                     # what the findings were judged against, as given
    summary: {total, by_severity: {error, warning, info}, by_check: {check: n},
              checks: n, passed: n}   # checks: (check, object) pairs evaluated; passed: those with no finding
    findings: [...]                   # sorted: severity, check, object name, code
    checked: {check: [object names]}  # every object each check evaluated (objects with a finding included)
    placement: {before: snapshot, after: snapshot or null}

    snapshot = {nodes: [names], volumes: [{name, owner}],
                vms: [{name, id, node, volume, on_owner: true|false|null, state}]}

``placement.before`` is the view the run started from and ``after`` the view it left (``null`` when the
report describes one moment: an audit). Renderers: :func:`to_json`, :func:`to_markdown`, :func:`to_html`
(one self-contained page with a placement picture) and :func:`to_junit` (one test case per check and object).
"""
import html
import json
import math
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type

DEFAULT_TITLE = "Hyper-V backup readiness"
SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
OBJECT_KINDS = ("vm", "node", "cluster", "folder", "volume", "writer", "account", "event")

# The placement picture draws one mark per VM while every cell holds at most CELL_MARK_LIMIT VMs and the
# picture at most PICTURE_MARK_LIMIT; beyond either it draws counts per cell, names in each cell's tooltip.
CELL_MARK_LIMIT = 48
PICTURE_MARK_LIMIT = 1000
# Rows of a findings table shown open; the rest of a long table is behind a <details>.
OPEN_ROWS = 50


class ReportError(ValueError):
    """Input that cannot become a report; the message names the bad value."""


# --- text helpers shared by the renderers -------------------------------------------------------------

# Characters XML 1.0 does not allow (and HTML treats as parse errors): C0 controls other than tab, LF, CR,
# lone surrogates, U+FFFE/U+FFFF. DEL and C1 controls are allowed but invisible; they are shown too.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\t]")


def _show_char(match):
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _text(value, lines=False):
    """``value`` as text safe for any output: control characters shown as ``\\xNN``; line breaks and tabs
    become spaces unless ``lines``."""
    text = "" if value is None else str(value)
    if not lines:
        text = _LINE_BREAKS.sub(" ", text)
    return _INVISIBLE.sub(_show_char, text)


def _iso(value):
    """A datetime, date or ISO 8601 text -> ``YYYY-MM-DDTHH:MM:SSZ`` (UTC); other text is kept as it is."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _when(iso):
    """``2026-11-23T12:00:00Z`` -> ``2026-11-23 12:00 UTC`` for people."""
    if not iso:
        return ""
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})?Z", str(iso))
    return f"{match.group(1)} {match.group(2)} UTC" if match else str(iso)


def _key(name):
    return str(name or "").casefold()


def _plural(count, word):
    return f"{count} {word if count == 1 else word + 's'}"


def _evidence_parts(evidence, errors=None):
    """``(how often, when)`` a finding's error was seen, as words: ``("seen 3 times", "2026-11-20 02:00 UTC
    to 2026-11-22 02:00 UTC")``. ``errors`` given and empty: the finding leads to no error an event shows."""
    if evidence is None and errors is not None and not errors:
        return "no event shows this", ""
    if evidence is None:
        return "events not read", ""
    if not evidence.get("seen"):
        return "not seen in the events read", ""
    count = evidence.get("count") or len(evidence.get("events") or [])
    first, last = _when(evidence.get("first")), _when(evidence.get("last"))
    if count == 1:
        return "seen once", last or first
    if first and last and first != last:
        return f"seen {count} times", f"{first} to {last}"
    return f"seen {count} times", f"last {last}" if last else ""


def evidence_text(evidence, errors=None):
    """One line saying whether, how often and when a finding's error was seen (``errors``: see
    :func:`_evidence_parts`)."""
    return ", ".join(part for part in _evidence_parts(evidence, errors) if part)


def event_text(event):
    """``2026-11-22 03:10 UTC HV01 Microsoft-Windows-Hyper-V-VMMS-Admin 10103: message``."""
    head = " ".join(part for part in (_when(event.get("time")), event.get("node") or "", event.get("log") or "",
                                      str(event.get("id") or "")) if part)
    return f"{head}: {event.get('message') or ''}".rstrip(": ")


def _error_label(error):
    return " ".join(str(part) for part in (error.get("source"), error.get("id")) if part not in (None, ""))


# --- the document -------------------------------------------------------------------------------------

def _require_view(view, argument="view"):
    if not isinstance(view, dict) or not isinstance(view.get("vms"), list) or not isinstance(view.get("nodes"), dict):
        raise ReportError(f"report: {argument} must be the output of hyperv.backup.cluster_view, got {describe_type(view)}")
    return view


def placement_snapshot(view):
    """Where each VM runs and lives, from a view of ``cluster_view``: the nodes, the shared volumes with
    their owners, and each VM with its node, volume and whether the node owns that volume."""
    _require_view(view)
    cluster = view.get("cluster") or {}
    nodes = [node["Name"] for node in cluster.get("Nodes", []) or []]
    known = {_key(name) for name in nodes}
    for name in list(view["nodes"]) + [vm.get("Node") for vm in view["vms"]]:
        if name and _key(name) not in known:
            nodes.append(name)
            known.add(_key(name))
    volumes = [{"name": v["Name"], "owner": v.get("OwnerNode")} for v in cluster.get("SharedVolumes", []) or []]
    vms = [{"name": vm.get("Name"), "id": vm.get("Id"), "node": vm.get("Node"), "volume": vm.get("SharedVolume"),
            "on_owner": vm.get("OnSharedVolumeOwner"), "state": vm.get("State")} for vm in view["vms"]]
    return {
        "nodes": sorted(nodes, key=_key),
        "volumes": sorted(volumes, key=lambda v: _key(v["name"])),
        "vms": sorted(vms, key=lambda v: (_key(v["name"]), str(v["id"] or ""))),
    }


def _cluster_block(view):
    cluster = view.get("cluster")
    if cluster:
        reporting = {_key(name) for name in cluster.get("ReportingNodes") or view["nodes"]}
        nodes = [{"name": n["Name"], "state": n.get("State"), "reporting": _key(n["Name"]) in reporting}
                 for n in cluster.get("Nodes", []) or []]
        members = {_key(n["name"]) for n in nodes}
        nodes += [{"name": name, "state": None, "reporting": True} for name in view["nodes"] if _key(name) not in members]
    else:
        nodes = [{"name": name, "state": None, "reporting": True} for name in view["nodes"]]
    volumes = [{"name": v["Name"], "path": v.get("Path"), "owner": v.get("OwnerNode"), "state": v.get("State")}
               for v in (cluster or {}).get("SharedVolumes", []) or []]
    return {
        "name": cluster["Name"] if cluster else None,
        "nodes": sorted(nodes, key=lambda n: _key(n["name"])),
        "volumes": sorted(volumes, key=lambda v: _key(v["name"])),
        "vm_count": len(view["vms"]),
    }


def _normalize_evidence(evidence, where):
    if evidence is None:
        return None
    if not isinstance(evidence, dict):
        raise ReportError(f"report: {where} evidence must be a mapping or null, got {describe_type(evidence)}")
    events = []
    for event in evidence.get("events") or []:
        if not isinstance(event, dict):
            raise ReportError(f"report: {where} evidence event {event!r} is not a mapping")
        events.append({"log": event.get("log"), "id": event.get("id"), "time": _iso(event.get("time")),
                       "node": event.get("node"), "message": event.get("message"), "vm_id": event.get("vm_id")})
    events.sort(key=lambda e: e["time"] or "", reverse=True)
    seen = bool(evidence.get("seen", bool(events)))
    count = evidence.get("count")
    if count is not None and not (isinstance(count, int) and not isinstance(count, bool)):
        raise ReportError(f"report: {where} evidence count must be a number, got {count!r}")
    return {"seen": seen, "count": count if count is not None else len(events),
            "first": _iso(evidence.get("first")), "last": _iso(evidence.get("last")), "events": events}


def _normalize_fix(fix):
    if fix is None or isinstance(fix, str):
        return {"text": fix or "", "module": None, "role": None, "command": None}
    if not isinstance(fix, dict):
        raise ReportError(f"report: fix must be a mapping or text, got {describe_type(fix)}")
    return {"text": fix.get("text") or "", "module": fix.get("module"), "role": fix.get("role"), "command": fix.get("command")}


def _normalize_finding(finding, index):
    """A finding in the documented shape and key order. Raises :class:`ReportError` naming what is wrong."""
    where = f"finding {index}"
    if not isinstance(finding, dict):
        raise ReportError(f"report: {where} must be a mapping, got {describe_type(finding)}")
    check = finding.get("check")
    if not isinstance(check, str) or not check:
        raise ReportError(f"report: {where} has no check: {finding!r}")
    severity = finding.get("severity")
    if severity not in SEVERITY_RANK:
        raise ReportError(f"report: {where} ({check}) has severity {severity!r}; expected one of {', '.join(SEVERITIES)}")
    obj = finding.get("object")
    if not isinstance(obj, dict) or obj.get("name") in (None, ""):
        raise ReportError(f"report: {where} ({check}) has no object name: {obj!r}")
    if obj.get("kind") not in OBJECT_KINDS:
        raise ReportError(f"report: {where} ({check}) has object kind {obj.get('kind')!r}; expected one of {', '.join(OBJECT_KINDS)}")
    errors = finding.get("errors") or []
    if not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors):
        raise ReportError(f"report: {where} ({check}) errors must be a list of {{source, id}}, got {errors!r}")
    node = finding.get("node", obj.get("node"))
    return {
        "check": check,
        "code": finding.get("code") or check,
        "severity": severity,
        "object": {"kind": obj["kind"], "name": obj["name"], "id": obj.get("id"), "node": obj.get("node", node)},
        "target": finding.get("target") or obj["name"],
        "node": node,
        "message": finding.get("message") or "",
        "impact": finding.get("impact") or "",
        "errors": [{"source": e.get("source"), "id": e.get("id")} for e in errors],
        "fix": _normalize_fix(finding.get("fix")),
        "evidence": _normalize_evidence(finding.get("evidence"), where),
    }


def _finding_order(finding):
    return (SEVERITY_RANK[finding["severity"]], finding["check"], _key(finding["object"]["name"]),
            finding["code"], _key(finding["node"]), finding["message"])


def _summary(findings, checked):
    """Totals per severity and per check, and how many (check, object) pairs were evaluated and passed."""
    by_severity = {severity: 0 for severity in SEVERITIES}
    by_check = {}
    failed_pairs = set()
    for finding in findings:
        by_severity[finding["severity"]] += 1
        by_check[finding["check"]] = by_check.get(finding["check"], 0) + 1
        failed_pairs.add((finding["check"], _key(finding["object"]["name"])))
    pairs = sum(len(names) for names in checked.values())
    return {"total": len(findings), "by_severity": by_severity, "by_check": dict(sorted(by_check.items())),
            "checks": pairs, "passed": pairs - len(failed_pairs)}


def _merge_checked(checked, findings):
    if checked is None:
        checked = {}
    if not isinstance(checked, dict):
        raise ReportError(f"report: checked must map each check to the object names it evaluated, got {describe_type(checked)}")
    merged = {}
    for check, names in checked.items():
        if not isinstance(names, (list, tuple, set)):
            raise ReportError(f"report: checked[{check!r}] must be a list of object names, got {describe_type(names)}")
        merged[str(check)] = {_key(name): name for name in names if name not in (None, "")}
    for finding in findings:
        merged.setdefault(finding["check"], {}).setdefault(_key(finding["object"]["name"]), finding["object"]["name"])
    return {check: sorted(names.values(), key=_key) for check, names in sorted(merged.items())}


def build_report(view, findings, checked=None, policy=None, before_view=None, title=DEFAULT_TITLE, generated=None):
    """The report document (see the module's docstring) from the cluster ``view`` now, its ``findings``,
    ``checked`` (``{check: [object names evaluated]}``; objects with a finding are added), the ``policy``
    they were judged against, and ``before_view``, the view a run started from (placement before and after).
    ``generated`` (datetime or ISO text) defaults to now."""
    _require_view(view)
    if before_view is not None:
        _require_view(before_view, "before_view")
    if not isinstance(findings, (list, tuple)):
        raise ReportError(f"report: findings must be a list, got {describe_type(findings)}")
    if policy is not None and not isinstance(policy, dict):
        raise ReportError(f"report: policy must be a mapping, got {describe_type(policy)}")
    stamp = _iso(generated if generated is not None else datetime.now(timezone.utc))
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", stamp or ""):
        raise ReportError(f"report: generated={generated!r} is not an ISO 8601 time")
    normalized = sorted((_normalize_finding(f, i) for i, f in enumerate(findings)), key=_finding_order)
    checked = _merge_checked(checked, normalized)
    return {
        "title": str(title),
        "generated": stamp,
        "cluster": _cluster_block(view),
        "policy": dict(policy or {}),
        "summary": _summary(normalized, checked),
        "findings": normalized,
        "checked": checked,
        "placement": {
            "before": placement_snapshot(before_view if before_view is not None else view),
            "after": placement_snapshot(view) if before_view is not None else None,
        },
    }


# --- JSON ---------------------------------------------------------------------------------------------

def _json_default(value):
    if isinstance(value, (datetime, date)):
        return _iso(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"report: {describe_type(value)} is not JSON serializable")


def to_json(report):
    """The report as JSON text: the document's key order (stable), times as ISO 8601 UTC, non-ASCII text as
    it is, any lone surrogate escaped so that the text encodes to UTF-8."""
    text = json.dumps(report, ensure_ascii=False, indent=2, default=_json_default)
    return text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n"


# --- grouping shared by Markdown and HTML --------------------------------------------------------------

def _by_severity_and_check(findings):
    """``[(severity, [(check, [findings])])]`` in report order, severities without findings left out."""
    grouped = []
    for severity in SEVERITIES:
        checks = {}
        for finding in findings:
            if finding["severity"] == severity:
                checks.setdefault(finding["check"], []).append(finding)
        if checks:
            grouped.append((severity, sorted(checks.items())))
    return grouped


def _same(findings, pick):
    values = {json.dumps(pick(f), sort_keys=True, default=str) for f in findings}
    return pick(findings[0]) if len(values) == 1 else None


def _off_owner(snapshot):
    return [vm for vm in snapshot["vms"] if vm["on_owner"] is False]


def _owner_of(snapshot):
    return {_key(volume["name"]): volume["owner"] for volume in snapshot["volumes"]}


def _check_rows(report):
    """Per check: findings per severity, objects evaluated, objects passed."""
    rows = []
    for check in sorted(set(report["checked"]) | set(report["summary"]["by_check"])):
        counts = {severity: 0 for severity in SEVERITIES}
        failed = set()
        for finding in report["findings"]:
            if finding["check"] == check:
                counts[finding["severity"]] += 1
                failed.add(_key(finding["object"]["name"]))
        objects = len(report["checked"].get(check, []))
        rows.append({"check": check, **counts, "checked": objects, "passed": objects - len(failed)})
    return rows


SEVERITY_TITLES = {"error": "Errors", "warning": "Warnings", "info": "Info"}


def _verdict(summary):
    errors, warnings = summary["by_severity"]["error"], summary["by_severity"]["warning"]
    if errors:
        return "error", f"Not ready: {_plural(errors, 'error')} will make backups fail"
    if warnings:
        return "warning", f"Ready, with {_plural(warnings, 'warning')}"
    return "ok", "Ready for host-level backups"


def _scope_line(report):
    cluster = report["cluster"]
    nodes = cluster["nodes"]
    reporting = sum(1 for n in nodes if n["reporting"])
    where = f"Cluster {cluster['name']}" if cluster["name"] else "Stand-alone hosts"
    node_part = _plural(len(nodes), "node") + (f" ({reporting} reporting)" if reporting != len(nodes) else "")
    return [where, node_part, _plural(len(cluster["volumes"]), "CSV"), _plural(cluster["vm_count"], "VM"),
            f"generated {_when(report['generated'])}"]


# --- Markdown -----------------------------------------------------------------------------------------

_MD_ESCAPE = re.compile(r"([\\`*_\[\]{}|~#!])")


def _md(value):
    """Text for Markdown: no markup, no HTML, one line; ``|`` escaped so that it cannot end a table cell."""
    text = _text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_ESCAPE.sub(r"\\\1", text)


def _md_code(value, table=False):
    """A code span that holds any text: a fence longer than the text's longest run of backticks; in a
    table cell ``|`` is escaped (GitHub's tables split cells before they read code spans)."""
    text = _text(value)
    if table:
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_fix(fix):
    parts = [_md(fix["text"])] if fix["text"] and fix["text"] != fix["command"] else []
    if fix["module"]:
        parts.append(f"module {_md_code(fix['module'])}")
    if fix["role"]:
        parts.append(f"role {_md_code(fix['role'])}")
    return "; ".join(parts)


def _md_finding(finding):
    obj = finding["object"]
    where = f"{obj['kind']}" + (f", on {_md(finding['node'])}" if finding["node"] and _key(finding["node"]) != _key(obj["name"]) else "")
    lines = [f"- **{_md(obj['name'])}** ({where}) {_md_code(finding['code'])}: {_md(finding['message'])}"]
    if finding["impact"]:
        errors = ", ".join(_md(_error_label(e)) for e in finding["errors"])
        lines.append(f"  - Impact: {_md(finding['impact'])}" + (f" (leads to {errors})" if errors else ""))
    fix = _md_fix(finding["fix"])
    if fix:
        lines.append(f"  - Fix: {fix}")
    if finding["fix"]["command"]:
        lines.append(f"  - Command: {_md_code(finding['fix']['command'])}")
    evidence = finding["evidence"]
    lines.append(f"  - Evidence: {_md(evidence_text(evidence, finding['errors']))}")
    for event in (evidence or {}).get("events", [])[:5]:
        lines.append(f"    - {_md(event_text(event))}")
    return lines


def _md_table(header, rows, align=None):
    align = align or ["---"] * len(header)
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return out


def _md_placement(report):
    before, after = report["placement"]["before"], report["placement"]["after"]
    lines = ["## Placement", ""]
    moments = [("before", before), ("after", after)] if after else [("now", before)]
    header = ["Volume", "Owner"] + [f"VMs ({name})" for name, _snap in moments] + [f"Off owner ({name})" for name, _snap in moments]
    rows = []
    for volume in (after or before)["volumes"]:
        counts, off = [], []
        for _name, snap in moments:
            on_volume = [vm for vm in snap["vms"] if _key(vm["volume"]) == _key(volume["name"])]
            counts.append(len(on_volume))
            off.append(sum(1 for vm in on_volume if vm["on_owner"] is False))
        rows.append([_md(volume["name"]), _md(volume["owner"])] + counts + off)
    if rows:
        lines += _md_table(header, rows, ["---", "---"] + ["---:"] * (2 * len(moments))) + [""]
    for name, snap in moments:
        off = _off_owner(snap)
        label = {"now": "VMs off their CSV owner", "before": "Before the run, VMs off their CSV owner",
                 "after": "After the run, VMs off their CSV owner"}[name]
        lines.append(f"{label}: {len(off)} of {len(snap['vms'])}.")
        lines.append("")
        if off:
            owners = _owner_of(snap)
            lines += _md_table(["VM", "Runs on", "Volume", "Volume owner"],
                               [[_md(vm["name"]), _md(vm["node"]), _md(vm["volume"]), _md(owners.get(_key(vm["volume"])))] for vm in off])
            lines.append("")
    return lines


def to_markdown(report):
    """The report as Markdown (GitHub flavoured, for tickets and chat): the verdict, a summary table, a
    table per check, the findings grouped by severity then check with impact, fix and evidence, and the
    placement of VMs on their CSV owners. Names are escaped: they cannot end a table cell or add markup."""
    summary = report["summary"]
    verdict = _verdict(summary)[1]
    lines = [f"# {_md(report['title'])}", "", " · ".join(_md(part) for part in _scope_line(report)), "",
             f"**{_md(verdict)}**", ""]
    by_severity = summary["by_severity"]
    lines += _md_table(["Severity", "Findings"], [[SEVERITY_TITLES[s], by_severity[s]] for s in SEVERITIES]
                       + [["**Total**", f"**{summary['total']}**"]], ["---", "---:"])
    lines += ["", f"{summary['passed']} of {summary['checks']} object checks passed.", ""]
    lines += _md_table(["Check", "Errors", "Warnings", "Info", "Objects checked", "Passed"],
                       [[_md_code(r["check"], table=True), r["error"], r["warning"], r["info"], r["checked"], r["passed"]]
                        for r in _check_rows(report)],
                       ["---"] + ["---:"] * 5)
    lines.append("")
    for severity, checks in _by_severity_and_check(report["findings"]):
        lines += [f"## {SEVERITY_TITLES[severity]} ({by_severity[severity]})", ""]
        for check, findings in checks:
            lines += [f"### {_md_code(check)} ({len(findings)})", ""]
            for finding in findings:
                lines += _md_finding(finding)
            lines.append("")
    if not report["findings"]:
        lines += ["No findings.", ""]
    lines += _md_placement(report)
    if report["policy"]:
        policy = json.dumps(report["policy"], ensure_ascii=False, sort_keys=True, default=str)
        lines += [f"Policy: {_md_code(policy)}", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# --- HTML ---------------------------------------------------------------------------------------------

def _h(value, lines=False):
    return html.escape(_text(value, lines), quote=True)


_CSS = """
:root { --error:#c0392b; --warning:#d68910; --info:#2e86c1; --ok:#229954; --ink:#1f2933; --muted:#65727e;
  --line:#dde3ea; --panel:#f6f8fa; --on:#27ae60; --off:#e4572e; --none:#9aa5b1; --owner:#e3eefb; --ownerline:#5b8fd0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 10px; } code, pre { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 12.5px; }
code { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; overflow-wrap: anywhere; }
pre { background: #1f2933; color: #f5f7fa; border-radius: 6px; padding: 8px 10px; margin: 6px 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
pre code { background: none; border: 0; padding: 0; color: inherit; }
.meta { color: var(--muted); margin: 0; } .muted { color: var(--muted); }
.verdict { margin: 16px 0; padding: 12px 16px; border-radius: 8px; font-weight: 600; font-size: 16px; border-left: 6px solid; }
.verdict.error { background: #fbeae8; border-color: var(--error); color: #7b241c; }
.verdict.warning { background: #fdf3e1; border-color: var(--warning); color: #7e5109; }
.verdict.ok { background: #e6f5ec; border-color: var(--ok); color: #145a32; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 0 0 8px; }
.card { flex: 1 1 150px; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; border-top: 4px solid var(--line); }
.card .n { display: block; font-size: 28px; font-weight: 700; } .card .l { color: var(--muted); }
.card.error { border-top-color: var(--error); } .card.error .n { color: var(--error); }
.card.warning { border-top-color: var(--warning); } .card.warning .n { color: var(--warning); }
.card.info { border-top-color: var(--info); } .card.info .n { color: var(--info); }
.card.passed { border-top-color: var(--ok); } .card.passed .n { color: var(--ok); }
.card.zero .n { color: #b8c1ca; }
nav a { color: var(--info); margin-right: 14px; text-decoration: none; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--panel); font-weight: 600; font-size: 12.5px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.zero { color: #b8c1ca; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600; color: #fff; vertical-align: 1px; }
.badge.error { background: var(--error); } .badge.warning { background: var(--warning); } .badge.info { background: var(--info); }
.group { border: 1px solid var(--line); border-left: 5px solid var(--line); border-radius: 8px; margin: 0 0 14px; overflow: hidden; }
.group.error { border-left-color: var(--error); } .group.warning { border-left-color: var(--warning); } .group.info { border-left-color: var(--info); }
.group > header { padding: 10px 14px; background: var(--panel); display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.group > header h4 { margin: 0; font-size: 15px; } .group > header .count { color: var(--muted); margin-left: auto; }
.group .about { padding: 8px 14px 4px; } .group .about p { margin: 0 0 6px; }
.label { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; margin-right: 6px; }
.chip { display: inline-block; border: 1px solid #e6b0aa; background: #fdf2f1; color: #922b21; border-radius: 4px; padding: 0 6px;
  font-size: 12px; margin-right: 4px; }
.group table { margin: 4px 0 0; } .group td:first-child { font-weight: 600; white-space: nowrap; }
.obj-kind { color: var(--muted); font-weight: 400; font-size: 12px; }
.seen { color: #922b21; font-weight: 600; display: block; } .when { display: block; color: var(--muted); font-size: 12.5px; }
.unseen { color: var(--muted); white-space: nowrap; }
td.evidence { min-width: 200px; width: 22%; }
details summary { cursor: pointer; color: var(--info); } details ul { margin: 4px 0; padding-left: 18px; }
.event { white-space: pre-wrap; font-size: 12.5px; }
.rowfix { margin-top: 4px; color: var(--muted); }
.more { padding: 6px 14px 10px; }
.pictures { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
figure { margin: 0; max-width: 100%; overflow-x: auto; } figcaption { font-weight: 600; margin: 0 0 6px; }
figcaption .muted { font-weight: 400; }
svg.placement text { font-family: "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; fill: var(--ink); }
svg.placement .head { font-size: 12.5px; font-weight: 700; } svg.placement .sub { font-size: 11px; fill: var(--muted); }
svg.placement .cell { fill: #fff; stroke: var(--line); } svg.placement .cell.owner { fill: var(--owner); stroke: var(--ownerline); stroke-width: 1.5; }
svg.placement .tag { font-size: 9.5px; font-weight: 700; fill: var(--ownerline); letter-spacing: .05em; }
svg.placement .n { font-size: 10.5px; fill: var(--muted); } svg.placement .big { font-size: 18px; font-weight: 700; }
svg.placement .vm { stroke-width: 1.6; } svg.placement .vm.on { fill: var(--on); stroke: var(--on); }
svg.placement .vm.off { fill: var(--off); stroke: var(--off); } svg.placement .vm.none { fill: var(--none); stroke: var(--none); }
svg.placement .vm.stopped { fill: #fff; } svg.placement .ring { fill: none; stroke: var(--ink); stroke-width: 1.2; }
svg.placement .bar.on { fill: var(--on); } svg.placement .bar.off { fill: var(--off); } svg.placement .bar.none { fill: var(--none); }
svg.placement .offline { fill: #fafbfc; } svg.placement .nofacts { font-style: italic; fill: var(--muted); }
.legend { display: flex; gap: 18px; flex-wrap: wrap; color: var(--muted); font-size: 12.5px; margin: 10px 0; align-items: center; }
.legend svg { vertical-align: -3px; margin-right: 4px; }
.policy { margin-top: 12px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { .group { break-inside: avoid; } details > *:not(summary) { display: block; } }
"""

_SVG_LABEL_W, _SVG_COL_W, _SVG_HEAD_H, _SVG_PAD, _SVG_STEP, _SVG_R = 150, 140, 42, 8, 16, 5.5
_SVG_TOP = 16  # room for the count and the owner tag at the top of each cell
_SVG_PER_ROW = (_SVG_COL_W - 2 * _SVG_PAD) // _SVG_STEP
_SVG_AGGREGATE_H, _SVG_AGGREGATE_COL_W = 64, 100
_NO_VOLUME = "\x00"


def _clip(text, limit):
    text = _text(text)
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _vm_class(vm):
    placement = {True: "on", False: "off"}.get(vm["on_owner"], "none")
    return placement + ("" if vm.get("state") in (None, "Running") else " stopped")


def _vm_title(vm, owner, moved_from):
    where = f"runs on {vm['node']}"
    if vm["volume"]:
        where += f", lives on {vm['volume']} (owner {owner or 'unknown'})"
    else:
        where += ", not on a cluster shared volume"
    state = f" · {vm['state']}" if vm.get("state") else ""
    moved = f" · moved from {moved_from}" if moved_from else ""
    return f"{vm['name']}{state} · {where}{moved}"


def _svg_placement(snapshot, node_info, previous=None):
    """The placement picture: CSVs as rows, nodes as columns, each VM a mark in the cell of the node it
    runs on and the CSV it lives on; the owner's cell highlighted. Counts instead of marks when large."""
    nodes = snapshot["nodes"]
    owners = _owner_of(snapshot)
    rows = [(v["name"], v["owner"]) for v in snapshot["volumes"]]
    cells = {}
    for vm in snapshot["vms"]:
        volume = vm["volume"] if vm["volume"] and _key(vm["volume"]) in owners else _NO_VOLUME
        cells.setdefault((_key(volume), _key(vm["node"])), []).append(vm)
    if any(volume == _key(_NO_VOLUME) for volume, _node in cells):
        rows.append((_NO_VOLUME, None))
    aggregate = len(snapshot["vms"]) > PICTURE_MARK_LIMIT or any(len(v) > CELL_MARK_LIMIT for v in cells.values())
    was = {str(vm["id"]).lower(): vm["node"] for vm in (previous or {}).get("vms", []) if vm.get("id")}

    col_w = _SVG_AGGREGATE_COL_W if aggregate else _SVG_COL_W

    def height(volume):
        if aggregate:
            return _SVG_AGGREGATE_H
        most = max((len(cells.get((_key(volume), _key(n)), [])) for n in nodes), default=0)
        return max(_SVG_TOP + math.ceil(most / _SVG_PER_ROW) * _SVG_STEP + _SVG_PAD, 44)

    heights = [height(volume) for volume, _owner in rows]
    width = _SVG_LABEL_W + col_w * max(len(nodes), 1)
    total_h = _SVG_HEAD_H + sum(heights)
    out = [f'<svg class="placement{" aggregate" if aggregate else ""}" '
           f'width="{width + 1}" height="{total_h + 1}" viewBox="-0.5 -0.5 {width + 1} {total_h + 1}" role="img" '
           f'aria-label="{_plural(len(snapshot["vms"]), "VM")} on {_plural(len(nodes), "node")} and '
           f'{_plural(len(snapshot["volumes"]), "CSV")}">']
    for i, name in enumerate(nodes):
        x = _SVG_LABEL_W + i * col_w
        info = node_info.get(_key(name), {})
        count = sum(1 for vm in snapshot["vms"] if _key(vm["node"]) == _key(name))
        state = info.get("state")
        note = "no facts" if info and not info.get("reporting") else (state if state and state != "Up" else _plural(count, "VM"))
        out.append(f'<g class="node"><title>{_h(name)}: {_h(state or "")} {_plural(count, "VM")}</title>'
                   f'<text class="head" x="{x + col_w / 2}" y="17" text-anchor="middle">{_h(_clip(name, col_w // 9))}</text>'
                   f'<text class="sub{" nofacts" if note == "no facts" else ""}" x="{x + col_w / 2}" y="33" '
                   f'text-anchor="middle">{_h(note)}</text></g>')
    y = _SVG_HEAD_H
    for (volume, owner), row_h in zip(rows, heights):
        label = "not on a CSV" if volume == _NO_VOLUME else volume
        sub = "local or other storage" if volume == _NO_VOLUME else f"owner {owner or 'unknown'}"
        out.append(f'<g class="volume"><title>{_h(label)}: {_h(sub)}</title>'
                   f'<text class="head" x="6" y="{y + 20}">{_h(_clip(label, 19))}</text>'
                   f'<text class="sub" x="6" y="{y + 36}">{_h(_clip(sub, 24))}</text></g>')
        for i, name in enumerate(nodes):
            x = _SVG_LABEL_W + i * col_w
            is_owner = volume != _NO_VOLUME and _key(owner) == _key(name)
            vms = cells.get((_key(volume), _key(name)), [])
            offline = node_info.get(_key(name), {}).get("reporting") is False
            css = "cell owner" if is_owner else ("cell offline" if offline else "cell")
            names = ", ".join(_text(vm["name"]) for vm in vms)
            cell_title = f"{name} × {label}: {_plural(len(vms), 'VM')}" + (" (owner)" if is_owner else "")
            out.append(f'<g class="slot" data-node="{_h(name)}" data-volume="{_h(label)}" data-count="{len(vms)}">'
                       f'<title>{_h(cell_title)}{": " + html.escape(names) if names else ""}</title>'
                       f'<rect class="{css}" x="{x}" y="{y}" width="{col_w}" height="{row_h}"/>')
            if is_owner:
                out.append(f'<text class="tag" x="{x + col_w - 6}" y="{y + 12}" text-anchor="end">OWNER</text>')
            if aggregate:
                out.extend(_svg_cell_counts(vms, x, y, col_w))
            else:
                if vms:
                    out.append(f'<text class="n" x="{x + 6}" y="{y + 12}">{len(vms)}</text>')
                for k, vm in enumerate(vms):
                    cx = x + _SVG_PAD + _SVG_STEP / 2 + (k % _SVG_PER_ROW) * _SVG_STEP
                    cy = y + _SVG_TOP + _SVG_STEP / 2 + (k // _SVG_PER_ROW) * _SVG_STEP
                    before = was.get(str(vm["id"]).lower()) if previous else None
                    moved_from = before if before and _key(before) != _key(vm["node"]) else None
                    title = _vm_title(vm, owners.get(_key(vm["volume"])), moved_from)
                    ring = f'<circle class="ring" cx="{cx}" cy="{cy}" r="{_SVG_R + 2.2}"/>' if moved_from else ""
                    out.append(f'<g class="mark">{ring}<circle class="vm {_vm_class(vm)}{" moved" if moved_from else ""}" '
                               f'cx="{cx}" cy="{cy}" r="{_SVG_R}"><title>{_h(title)}</title></circle></g>')
            out.append("</g>")
        y += row_h
    out.append("</svg>")
    return "".join(out)


def _svg_cell_counts(vms, x, y, col_w):
    """A large cell: the number of VMs, and a bar split into on / off the owner / not on a CSV."""
    if not vms:
        return []
    parts = {"on": 0, "off": 0, "none": 0}
    for vm in vms:
        parts[{True: "on", False: "off"}.get(vm["on_owner"], "none")] += 1
    out = [f'<text class="big" x="{x + col_w / 2}" y="{y + 30}" text-anchor="middle">{len(vms)}</text>']
    bar_x, bar_w = x + _SVG_PAD, col_w - 2 * _SVG_PAD
    for part in ("on", "off", "none"):
        if parts[part]:
            w = bar_w * parts[part] / len(vms)
            out.append(f'<rect class="bar {part}" x="{bar_x:.1f}" y="{y + 38}" width="{max(w, 1.5):.1f}" height="8"/>')
            bar_x += w
    if parts["off"]:
        out.append(f'<text class="n" x="{x + col_w / 2}" y="{y + 58}" text-anchor="middle">{parts["off"]} off owner</text>')
    return out


def _legend(moved):
    def dot(css, ring=False):
        extra = '<circle cx="9" cy="9" r="8" fill="none" stroke="#1f2933" stroke-width="1.2"/>' if ring else ""
        return (f'<svg class="placement" width="18" height="18">{extra}<circle class="vm {css}" cx="9" cy="9" r="{_SVG_R}"/></svg>')

    items = [(dot("on"), "running on its CSV's owner"), (dot("off"), "running off its CSV's owner"),
             (dot("none"), "not on a CSV"), (dot("on stopped"), "not running (hollow)")]
    if moved:
        items.append((dot("on", True), "moved by this run"))
    items += [('<svg class="placement" width="22" height="14"><rect class="cell owner" x="1" y="1" width="20" height="12"/></svg>',
              "the CSV owner's cell")]
    return '<div class="legend">' + "".join(f"<span>{icon}{_h(text)}</span>" for icon, text in items) + "</div>"


def _html_evidence(evidence, errors=None):
    how_often, when = _evidence_parts(evidence, errors)
    if not evidence or not evidence.get("seen"):
        return f'<span class="unseen">{_h(how_often)}</span>'
    events = evidence.get("events") or []
    out = f'<span class="seen">{_h(how_often)}</span>' + (f'<span class="when">{_h(when)}</span>' if when else "")
    if events:
        items = "".join(f'<li class="event">{_h(event_text(e), lines=True)}</li>' for e in events)
        out += f"<details><summary>{_plural(len(events), 'event')}</summary><ul>{items}</ul></details>"
    return out


def _html_fix(fix):
    parts = []
    if fix["text"] and fix["text"] != fix["command"]:
        parts.append(_h(fix["text"]))
    for kind in ("module", "role"):
        if fix[kind]:
            parts.append(f'{kind} <code>{_h(fix[kind])}</code>')
    out = " · ".join(parts)
    if fix["command"]:
        out += f"<pre><code>{_h(fix['command'], lines=True)}</code></pre>"
    return out


def _html_errors(errors):
    return "".join(f'<span class="chip">{_h(_error_label(e))}</span>' for e in errors)


def _html_group(severity, check, code, findings):
    impact = _same(findings, lambda f: f["impact"])
    errors = _same(findings, lambda f: f["errors"])
    fix = _same(findings, lambda f: f["fix"])
    about = []
    if impact:
        about.append(f'<p class="impact"><span class="label">Impact</span>{_h(impact)} {_html_errors(errors or [])}</p>')
    if fix is not None and any(fix.values()):
        about.append(f'<p class="fix"><span class="label">Fix</span>{_html_fix(fix)}</p>')
    rows = []
    for finding in findings:
        obj = finding["object"]
        node = finding["node"] if finding["node"] and _key(finding["node"]) != _key(obj["name"]) else ""
        cell = _h(finding["message"])
        if impact is None and finding["impact"]:
            cell += f'<div class="rowfix"><span class="label">Impact</span>{_h(finding["impact"])} {_html_errors(finding["errors"])}</div>'
        if fix is None and any(finding["fix"].values()):
            cell += f'<div class="rowfix"><span class="label">Fix</span>{_html_fix(finding["fix"])}</div>'
        ident = f' title="{_h(obj["id"])}"' if obj.get("id") else ""
        rows.append(f'<tr class="finding" data-check="{_h(check)}"><td{ident}>{_h(obj["name"])} '
                    f'<span class="obj-kind">{_h(obj["kind"])}</span></td><td>{_h(node)}</td><td>{cell}</td>'
                    f'<td class="evidence">{_html_evidence(finding["evidence"], finding["errors"])}</td></tr>')
    head = '<tr><th>Object</th><th>Node</th><th>What is wrong</th><th>Evidence</th></tr>'
    table = f"<table>{head}{''.join(rows[:OPEN_ROWS])}</table>"
    if len(rows) > OPEN_ROWS:
        table += (f'<details class="more"><summary>{len(rows) - OPEN_ROWS} more</summary>'
                  f"<table>{head}{''.join(rows[OPEN_ROWS:])}</table></details>")
    return (f'<article class="group {severity}" id="{_h(code)}"><header><span class="badge {severity}">{severity}</span>'
            f'<h4>{_h(check)}</h4><code>{_h(code)}</code><span class="count">{_plural(len(findings), "object")}</span>'
            f'</header><div class="about">{"".join(about)}</div>{table}</article>')


def _html_findings(report):
    out = ['<section id="findings"><h2>Findings</h2>']
    if not report["findings"]:
        out.append('<p class="muted">No findings: every check passed for every object it evaluated.</p>')
    for severity, checks in _by_severity_and_check(report["findings"]):
        out.append(f'<section class="severity {severity}"><h3>{SEVERITY_TITLES[severity]} '
                   f'<span class="muted">({report["summary"]["by_severity"][severity]})</span></h3>')
        for check, findings in checks:
            codes = {}
            for finding in findings:
                codes.setdefault(finding["code"], []).append(finding)
            out.extend(_html_group(severity, check, code, group) for code, group in codes.items())
        out.append("</section>")
    out.append("</section>")
    return "".join(out)


def _html_checks(report):
    rows = []
    for row in _check_rows(report):
        cells = "".join(f'<td class="num{"" if row[s] else " zero"}">{row[s]}</td>' for s in SEVERITIES)
        rows.append(f'<tr><td><code>{_h(row["check"])}</code></td>{cells}<td class="num">{row["checked"]}</td>'
                    f'<td class="num">{row["passed"]}</td></tr>')
    policy = ""
    if report["policy"]:
        text = json.dumps(report["policy"], indent=2, ensure_ascii=False, sort_keys=True, default=str)
        policy = f'<details class="policy"><summary>The policy judged against</summary><pre><code>{_h(text, lines=True)}</code></pre></details>'
    return ('<section id="checks"><h2>Checks</h2><table><tr><th>Check</th><th class="num">Errors</th>'
            '<th class="num">Warnings</th><th class="num">Info</th><th class="num">Objects checked</th>'
            f'<th class="num">Passed</th></tr>{"".join(rows)}</table>{policy}</section>')


def _html_placement(report):
    before, after = report["placement"]["before"], report["placement"]["after"]
    node_info = {_key(n["name"]): n for n in report["cluster"]["nodes"]}
    moments = [("Before", before, None), ("After", after, before)] if after else [("Now", before, None)]
    figures, lists = [], []
    for label, snap, previous in moments:
        off = _off_owner(snap)
        figures.append(f'<figure data-moment="{label.lower()}"><figcaption>{label} <span class="muted">· '
                       f'{len(off)} of {_plural(len(snap["vms"]), "VM")} off their CSV owner</span></figcaption>'
                       f'{_svg_placement(snap, node_info, previous)}</figure>')
        if off:
            owners = _owner_of(snap)
            rows = "".join(f'<tr><td>{_h(vm["name"])}</td><td>{_h(vm["node"])}</td><td>{_h(vm["volume"])}</td>'
                           f'<td>{_h(owners.get(_key(vm["volume"])))}</td></tr>' for vm in off)
            lists.append(f'<details><summary>{label}: {_plural(len(off), "VM")} off their CSV owner</summary>'
                         f'<table><tr><th>VM</th><th>Runs on</th><th>Volume</th><th>Volume owner</th></tr>{rows}</table></details>')
    return (f'<section id="placement"><h2>Placement</h2><p class="muted">Each row is a cluster shared volume, each '
            f'column a node; a VM is drawn in the cell of the node it runs on and the volume it lives on. Backups '
            f'go best when a VM runs on the node that owns its volume.</p>{_legend(after is not None)}'
            f'<div class="pictures">{"".join(figures)}</div>{"".join(lists)}</section>')


def to_html(report):
    """The report as one self-contained HTML page: inline CSS and SVG, no script, no external URL (a
    Content-Security-Policy forbids loading anything). A verdict, counts per severity, a table of checks,
    the findings by severity with impact, fix and evidence, and the placement picture (before and after side
    by side when the report has both). Every value from the report is HTML-escaped."""
    summary = report["summary"]
    level, verdict = _verdict(summary)
    cards = "".join(f'<div class="card {s}{"" if summary["by_severity"][s] else " zero"}"><span class="n">{summary["by_severity"][s]}</span>'
                    f'<span class="l">{SEVERITY_TITLES[s].lower()}</span></div>' for s in SEVERITIES)
    cards += (f'<div class="card passed"><span class="n">{summary["passed"]}</span><span class="l">of '
              f'{summary["checks"]} object checks passed</span></div>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{_h(report["title"])}</title><style>{_CSS}</style></head><body><main>'
        f'<header><h1>{_h(report["title"])}</h1><p class="meta">{" · ".join(_h(p) for p in _scope_line(report))}</p></header>'
        f'<div class="verdict {level}">{_h(verdict)}</div><div class="cards">{cards}</div>'
        '<nav><a href="#findings">Findings</a><a href="#placement">Placement</a><a href="#checks">Checks</a></nav>'
        f'{_html_findings(report)}{_html_placement(report)}{_html_checks(report)}'
        f'<footer>hyperv.backup readiness report · {_h(report["generated"])}</footer>'
        '</main></body></html>\n'
    )


# --- JUnit XML ----------------------------------------------------------------------------------------

def _x(value, lines=True):
    """Text XML 1.0 can hold: characters it does not allow shown as ``\\xNN``."""
    return _text(value, lines)


def _finding_detail(finding):
    lines = [f"{finding['severity']} {finding['code']}: {finding['message']}"]
    if finding["impact"]:
        errors = ", ".join(_error_label(e) for e in finding["errors"])
        lines.append(f"impact: {finding['impact']}" + (f" (leads to {errors})" if errors else ""))
    fix = finding["fix"]
    fix_parts = [fix["text"]] + [f"{kind} {fix[kind]}" for kind in ("module", "role") if fix[kind]]
    if any(fix_parts):
        lines.append("fix: " + "; ".join(part for part in fix_parts if part))
    if fix["command"] and fix["command"] != fix["text"]:
        lines.append(f"command: {fix['command']}")
    lines.append(f"evidence: {evidence_text(finding['evidence'], finding['errors'])}")
    lines += [f"  {event_text(e)}" for e in (finding["evidence"] or {}).get("events", [])]
    return "\n".join(lines)


def to_junit(report, threshold="error"):
    """The report as JUnit XML: one ``<testsuite>`` per check, one ``<testcase>`` (classname = the check,
    name = the object) per object the check evaluated. A finding at or above ``threshold`` (``error``,
    ``warning`` or ``info``) makes its case a ``<failure>`` (message: the finding's message; text: impact,
    fix, evidence). Below the threshold a warning passes with its details in ``<system-out>``, and a case with
    only info findings is ``<skipped>`` (info means the check could not judge the object or has only a remark);
    an object with no finding passes. Characters XML 1.0 does not allow are shown as ``\\xNN``."""
    if threshold not in SEVERITY_RANK:
        raise ReportError(f"report: threshold {threshold!r} is not one of {', '.join(SEVERITIES)}")
    limit = SEVERITY_RANK[threshold]
    stamp = report["generated"].rstrip("Z")
    findings = {}
    for finding in report["findings"]:
        findings.setdefault((finding["check"], _key(finding["object"]["name"])), []).append(finding)
    root = ET.Element("testsuites", name=_x(report["title"], False))
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    host = report["cluster"]["name"] or "stand-alone"
    for check, names in report["checked"].items():
        suite = ET.SubElement(root, "testsuite", name=_x(check, False), timestamp=stamp, hostname=_x(host, False))
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="threshold", value=threshold)
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for name in names:
            case = ET.SubElement(suite, "testcase", classname=_x(check, False), name=_x(name, False), time="0")
            counts["tests"] += 1
            found = findings.get((check, _key(name)), [])
            failing = [f for f in found if SEVERITY_RANK[f["severity"]] <= limit]
            if failing:
                message = failing[0]["message"] + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")
                failure = ET.SubElement(case, "failure", message=_x(message, False), type=_x(failing[0]["code"], False))
                failure.text = _x("\n\n".join(_finding_detail(f) for f in found))
                counts["failures"] += 1
            elif found and all(f["severity"] == "info" for f in found):
                skipped = ET.SubElement(case, "skipped", message=_x(found[0]["message"], False))
                skipped.text = _x("\n\n".join(_finding_detail(f) for f in found))
                counts["skipped"] += 1
            elif found:
                out = ET.SubElement(case, "system-out")
                out.text = _x("\n\n".join(_finding_detail(f) for f in found))
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", "0")
        suite.set("skipped", str(counts["skipped"]))
        suite.set("time", "0")
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    root.set("time", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
