"""What the per-VM planners share: their error type and how a plan and an apply result become the result.

Entry statuses: ``ok`` (nothing to do), ``changed`` (changes, or would change in check mode), ``pending``
(left alone, ``msg`` says why) and ``failed`` (``msg`` says what the host reported).
"""

STATUSES = ("changed", "ok", "pending", "failed")


class PlanError(ValueError):
    """The task cannot be planned as asked (bad option, unsupported host, refused VMs); names the value."""


def finish(the_plan, apply_result=None):
    """Merge the per-VM results of an apply (``{'vms': [{'id', 'status', 'after', 'error'?, 'reason'?}]}``)
    into the plan's entries; without an apply (check mode, nothing to do) the plan is the answer.

    The apply's ``after`` wins over the plan's for the settings the plan manages (it is what the host
    read back), and so does its ``before`` (what the host read just before acting: the facts the plan came
    from may be older). An apply that failed as a whole (``failed`` with ``msg``) may still list the VMs it
    had done: those keep their results, the others fail with the host's message. Returns
    ``{'vms', 'counts', 'changed', 'stale'}``; ``stale`` lists the VMs whose settings the host read otherwise
    than the plan's facts said: ``{'id', 'name', 'facts', 'host'}`` with the settings that differ.
    """
    reported = {}
    unreported = "the host reported nothing for this VM"
    if apply_result is not None:
        items = apply_result.get("vms")
        reported = {str(item.get("id", "")).lower(): item
                    for item in (items if isinstance(items, list) else []) if isinstance(item, dict)}
        if apply_result.get("failed"):
            unreported = f"no result for this VM: the module failed on the host: {apply_result.get('msg') or 'no message'}"
    entries, stale = [], []
    for planned in the_plan["vms"]:
        entry = dict(planned, before=dict(planned["before"]), after=dict(planned["after"]))
        if apply_result is not None and planned["status"] == "changed":
            item = reported.get(planned["id"])
            if item is None:
                entry["status"] = "failed"
                entry["after"] = dict(planned["before"])
                entry["msg"] = unreported
            else:
                status = item.get("status")
                if status not in STATUSES:
                    status = "failed"
                entry["status"] = status
                read = item.get("before") if isinstance(item.get("before"), dict) else {}
                differing = [key for key in planned["before"] if key in read and read[key] != planned["before"][key]]
                if differing:
                    stale.append({"id": planned["id"], "name": planned["name"],
                                  "facts": {key: planned["before"][key] for key in differing},
                                  "host": {key: read[key] for key in differing}})
                    entry["before"] = {key: read.get(key, planned["before"][key]) for key in planned["before"]}
                actual = item.get("after") or {}
                fallback = planned["after"] if status == "changed" else planned["before"]
                entry["after"] = {key: actual.get(key, fallback.get(key)) for key in planned["after"]}
                message = item.get("error") or item.get("reason")
                if message:
                    entry["msg"] = message
        entries.append(entry)
    counts = {"selected": len(entries)}
    counts.update({status: sum(1 for e in entries if e["status"] == status) for status in STATUSES})
    return {"vms": entries, "counts": counts, "changed": counts["changed"] > 0, "stale": stale}


def diff(entries):
    """``{'before': {key: settings}, 'after': {key: settings}}`` for the VMs whose settings differ.

    The key is the VM name; Hyper-V allows two VMs of the same name (compared without regard to case), and
    such VMs are keyed ``<name> (<id>)`` so that neither hides the other."""
    shared = {}
    for entry in entries:
        folded = str(entry["name"]).lower()
        shared[folded] = shared.get(folded, 0) + 1
    before, after = {}, {}
    for entry in entries:
        if entry["before"] != entry["after"]:
            key = entry["name"]
            if shared[str(key).lower()] > 1:
                key = f"{key} ({entry['id']})"
            before[key] = entry["before"]
            after[key] = entry["after"]
    return {"before": before, "after": after}
