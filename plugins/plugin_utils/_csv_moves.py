"""Carrying out a CSV placement plan: batches, dependencies, progress lines, and the task's result.

Plain functions and one small record over plain data; the action plugin (plugins/action/csv_placement.py)
sends each batch to the host and feeds what came back to :class:`MoveRun`. A move is carried out only when
its CSV move (``depends_on``) did not fail; the others go on past a failure; the run's result names every
failure with the host's message.
"""
import re

from ansible_collections.hyperv.backup.plugins.plugin_utils._csv_placement import PlacementError

MAX_PARALLEL = 16
MAX_TIMEOUT = 86400
# The planner's options, as the action plugin's arguments name them.
PLAN_OPTIONS = ("strategy", "csv_move_cost", "migration_type", "memory_headroom", "max_moves", "exclude",
                "search_limit")
STATUSES = ("planned", "moved", "ok", "failed", "skipped")
_DIGITS = re.compile(r"^\s*\d+\s*$")


def run_options(args):
    """The planner's options from the task's arguments, and ``(parallel, timeout)``; raises
    :class:`PlacementError` naming a value out of range. A templated byte count (``'1073741824'``) is a number."""
    options = {key: args.get(key) for key in PLAN_OPTIONS}
    headroom = options["memory_headroom"]
    if isinstance(headroom, str) and _DIGITS.match(headroom):
        options["memory_headroom"] = int(headroom)
    parallel, timeout = args.get("parallel", 1), args.get("timeout", 3600)
    if not 1 <= parallel <= MAX_PARALLEL:
        raise PlacementError(f"parallel: {parallel} must be from 1 to {MAX_PARALLEL}")
    if not 1 <= timeout <= MAX_TIMEOUT:
        raise PlacementError(f"timeout: {timeout} must be from 1 to {MAX_TIMEOUT} seconds")
    return options, parallel, timeout


def batches(moves, parallel):
    """The plan's moves as consecutive batches of at most ``parallel`` indexes; a VM move never shares a
    batch with the move of the CSV it depends on (that move must be done first)."""
    result, current, csvs = [], [], set()
    for index, move in enumerate(moves):
        if current and (len(current) >= parallel or move.get("depends_on") in csvs):
            result.append(current)
            current, csvs = [], set()
        current.append(index)
        if move["kind"] == "csv":
            csvs.add(move["name"])
    if current:
        result.append(current)
    return result


def label(move):
    """``VM SQL01`` / ``CSV Cluster Disk 2``: how progress lines and the diff name a move's object."""
    return f"{'VM' if move['kind'] == 'vm' else 'CSV'} {move['name']}"


class MoveRun:
    """What became of each move of a plan: ``entries[i]`` is the plan's move ``i`` with ``status``,
    ``method``, ``seconds``, ``owner`` and, for a failed or skipped move, ``error``."""

    def __init__(self, plan, status="planned"):
        self.plan = plan
        self.entries = []
        for move in plan["moves"]:
            entry = {key: move.get(key) for key in ("kind", "name", "id", "from", "to", "depends_on")}
            entry.update(status=status, method=None, seconds=None, owner=None)
            self.entries.append(entry)
        self.csv_status = {}

    # -- before a batch --------------------------------------------------------------------------------
    def skip_reason(self, index):
        """Why move ``index`` is not carried out (its CSV move failed or was skipped), or None."""
        csv = self.entries[index].get("depends_on")
        if csv and self.csv_status.get(csv) in ("failed", "skipped"):
            entry = next(e for e in self.entries if e["kind"] == "csv" and e["name"] == csv)
            return f"it depends on the move of {csv} to {entry['to']}, which {self.csv_status[csv]}"
        return None

    def skip(self, index, reason):
        self._set(index, status="skipped", error=reason)

    def module_args(self, indexes, cluster, migration_type, timeout):
        """The arguments of one csv_placement module run for the moves ``indexes``."""
        moves = []
        for index in indexes:
            entry = self.entries[index]
            item = {"kind": entry["kind"], "name": entry["name"], "from": entry["from"], "to": entry["to"]}
            if entry["kind"] == "vm":
                item["id"] = entry["id"]
            moves.append(item)
        return {"moves": moves, "cluster": cluster, "migration_type": migration_type, "timeout": timeout}

    # -- after a batch ---------------------------------------------------------------------------------
    def record(self, indexes, result, host_message):
        """Take the module's result for the moves ``indexes``. A move the host did not report (the module
        failed as a whole) fails with the host's message. Returns True when the module failed as a whole."""
        reported = result.get("moves") if isinstance(result.get("moves"), list) else []
        for position, index in enumerate(indexes):
            item = reported[position] if position < len(reported) else None
            if item is None:
                self._set(index, status="failed", error=f"the module failed on the host: {host_message}")
                continue
            self._set(index, status=item.get("status", "failed"), method=item.get("method"),
                      seconds=item.get("seconds"), owner=item.get("owner"), error=item.get("error"))
        # Per-move failures are not module failures: ``failed`` means the module failed as a whole.
        return bool(result.get("failed") or result.get("unreachable"))

    def abandon(self, indexes, reason):
        for index in indexes:
            if self.entries[index]["status"] == "planned":
                self.skip(index, reason)

    def _set(self, index, **values):
        entry = self.entries[index]
        entry.update({key: value for key, value in values.items() if key != "error" or value})
        if values.get("error") is None:
            entry.pop("error", None)
        if entry["kind"] == "csv":
            self.csv_status[entry["name"]] = entry["status"]

    def progress(self, index):
        """The line the controller prints when move ``index`` completes."""
        entry = self.entries[index]
        head = f"csv_placement: [{index + 1}/{len(self.entries)}] {label(entry)} {entry['from']} -> {entry['to']}: "
        if entry["status"] == "moved":
            how = ", ".join(part for part in (entry.get("method"), _seconds(entry.get("seconds"))) if part)
            return head + f"moved ({how})"
        if entry["status"] == "ok":
            return head + f"already on {entry.get('owner') or entry['to']}"
        return head + f"{entry['status'].upper()}: {entry.get('error', '')}".rstrip(": ")

    # -- the task's result -----------------------------------------------------------------------------
    def counts(self):
        counts = {"planned": len(self.entries)}
        counts.update({status: sum(1 for e in self.entries if e["status"] == status) for status in STATUSES[1:]})
        counts["deferred"] = len(self.plan.get("deferred") or [])
        return counts

    def failure_message(self):
        """``None`` when no move failed or was skipped, else the task's message naming each one."""
        failed = [e for e in self.entries if e["status"] == "failed"]
        skipped = [e for e in self.entries if e["status"] == "skipped"]
        if not failed and not skipped:
            return None
        parts = [f"{label(e)} {e['from']} -> {e['to']}: {e.get('error', 'failed')}" for e in failed]
        parts += [f"{label(e)} skipped: {e.get('error', '')}" for e in skipped]
        return (f"csv_placement: {len(failed)} of {len(self.entries)} move(s) failed and {len(skipped)} were skipped, "
                f"the others were made; run the task again to plan from the new placement: {'; '.join(parts)}")

    def diff(self, check_mode):
        """Owner before and after of each VM and CSV the plan moves (keyed ``VM <name>`` or ``CSV <name>``;
        ``VM <name> (<id>)`` for VMs that share a name)."""
        names = [e["name"] for e in self.entries if e["kind"] == "vm"]
        before, after = {}, {}
        for entry in self.entries:
            key = label(entry)
            if entry["kind"] == "vm" and names.count(entry["name"]) > 1:
                key += f" ({entry['id']})"
            before[key] = entry["from"]
            after[key] = entry["to"] if check_mode else (entry.get("owner") or entry["from"])
        return {"before": before, "after": after}


def _seconds(value):
    return None if value is None else f"{value:g} s"
