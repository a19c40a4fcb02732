"""Read the text of ``vssadmin list writers``.

The labels are localized, so the state is taken from the bracketed number (VSS_WRITER_STATE) and the
field names from their position in each block, not from their English words.
"""
import re

# VSS_WRITER_STATE (vss.h); 1 is the only healthy resting state.
WRITER_STATES = {
    0: "UNKNOWN",
    1: "STABLE",
    2: "WAITING_FOR_FREEZE",
    3: "WAITING_FOR_THAW",
    4: "WAITING_FOR_POST_SNAPSHOT",
    5: "WAITING_FOR_BACKUP_COMPLETE",
    6: "FAILED_AT_IDENTIFY",
    7: "FAILED_AT_PREPARE_BACKUP",
    8: "FAILED_AT_PREPARE_SNAPSHOT",
    9: "FAILED_AT_FREEZE",
    10: "FAILED_AT_THAW",
    11: "FAILED_AT_POST_SNAPSHOT",
    12: "FAILED_AT_BACKUP_COMPLETE",
    13: "FAILED_AT_PRE_RESTORE",
    14: "FAILED_AT_POST_RESTORE",
    15: "FAILED_AT_BACKUPSHUTDOWN",
}

_GUID = r"\{[0-9A-Fa-f-]{36}\}"
_NAME = re.compile(r"^[^:]+:\s*'(?P<name>.*)'\s*$")
_ID = re.compile(rf"^\s*[^:]+:\s*(?P<id>{_GUID})\s*$")
_STATE = re.compile(r"^\s*[^:]+:\s*\[(?P<state>\d+)\]\s*(?P<label>.*?)\s*$")
_LAST = re.compile(r"^\s*[^:]+:\s*(?P<text>.*?)\s*$")


def parse_vss_writers(text):
    """``vssadmin list writers`` output -> ``[{Name, Id, InstanceId, State, StateName, StateLabel, LastError}]``.

    A block starts at a line ``<label>: '<writer name>'`` and is followed by the writer id, the instance
    id, the state and the last error, in that order, as vssadmin prints them in every language.
    """
    writers = []
    current = None
    expect = None
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        name = _NAME.match(line)
        if name and not line.startswith((" ", "\t")):
            current = {"Name": name.group("name"), "Id": None, "InstanceId": None, "State": None,
                       "StateName": None, "StateLabel": None, "LastError": None}
            writers.append(current)
            expect = "Id"
            continue
        if current is None or expect is None:
            continue
        if expect in ("Id", "InstanceId"):
            match = _ID.match(line)
            if match:
                current[expect] = match.group("id").lower()
                expect = "InstanceId" if expect == "Id" else "State"
            continue
        if expect == "State":
            match = _STATE.match(line)
            if match:
                state = int(match.group("state"))
                current.update(State=state, StateName=WRITER_STATES.get(state, "UNKNOWN"), StateLabel=match.group("label"))
                expect = "LastError"
            continue
        match = _LAST.match(line)
        if match:
            current["LastError"] = match.group("text")
        expect = None
    return writers
