"""Planner of ``hyperv.backup.vss_access_control``: the REG_DWORD values under
``HKLM\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl`` of one node. Plain functions over plain data.

What it is for (user-facing)
----------------------------
A backup product that is its own VSS requester and runs under an account that is neither Local System
nor in the local Administrators or Backup Operators group gets VSS event 8194 ("Unexpected error querying
for the IVssWriterCallback interface. hr = 0x80070005, Access is denied") unless that account is listed
under the VssAccessControl key. The key holds one REG_DWORD value per account, named after the account;
the data says what the account may do. Microsoft documents the values on "Security Considerations for
Requesters" and "Security Considerations for Writers"
(https://learn.microsoft.com/windows/win32/vss/security-considerations-for-requestors,
https://learn.microsoft.com/windows/win32/vss/security-considerations-for-writers):

======  ===========  =====================================================
value   ``access``   meaning (Microsoft's wording)
======  ===========  =====================================================
0       deny         deny the user access to your writer and requester
1       writer       grant the user access to your writer (the field fix)
2       requester    grant the user access to your requester
3       both         grant the user access to your writer and requester
======  ===========  =====================================================

The key is per host, so the module runs on every node.

Options, as the planner takes them
----------------------------------
- ``accounts`` (list, required): account names, or dicts ``{'name', 'access'}``. ``access`` is one of
  ``deny``, ``writer``, ``requester``, ``both`` (any case) or the number 0 to 3.
  Without ``access``, the account must be *allowed as a writer*: an existing 1 or 3 is left alone, 2 becomes
  3 (requester access is kept), 0 or no value becomes 1. That is the field fix, and it never takes away
  requester access someone granted on purpose. With ``access``, the value must be exactly that.
- ``state`` (``present`` default, or ``absent``): ``absent`` removes the values of the listed accounts
  whatever their data; an ``access`` given with ``absent`` is an error (it would mean nothing).
- ``exclusive`` (bool, default false; only with ``present``): values of accounts that are not listed are
  removed. With an empty ``accounts`` it is refused: that would empty the key.
- ``resolve`` (bool, default false): the host checks that every listed account (``present``) resolves to
  a SID there (``NTAccount.Translate([SecurityIdentifier])``); one that does not is that account's failure
  and its value is not written. The planner only passes the names on; the merge reports the outcome.

Account names are data
----------------------
``DOMAIN\\name`` and ``name@domain`` are valid, with spaces, apostrophes, quotes, ``$`` and non-ASCII
letters; they reach the host as typed module arguments and become value names byte for byte. Errors, naming
the value: not a string, empty, leading or trailing whitespace (it would become part of the value name),
control characters, no domain part (neither ``\\`` nor ``@``), an empty domain or user part, more than
one ``\\``, longer than 16,383 characters (the registry's limit for a value name, "Registry Element Size
Limits", https://learn.microsoft.com/windows/win32/sysinfo/registry-element-size-limits).

Names are compared as Windows compares value names: without regard to case ("value names are not case
sensitive", RegDeleteValue, https://learn.microsoft.com/windows/win32/api/winreg/nf-winreg-regdeletevaluew),
one character at a time (``ß`` is not ``SS``). When a value exists under another spelling, it is updated
or removed under its existing name; no second value is created. Listing one account twice with the same
access is harmless; with different access it is an error.

UPN (``name@domain``) and ``DOMAIN\\name``: Microsoft's pages show ``DOMAIN\\name`` value names. VSS turns
each value name into a SID with the system's account lookup, which must accept user principal names as
well as ``domain\\name`` (MS-LSAT 3.1.4.5, LsarLookupNames4: "The following name forms MUST be supported:
User principal names ... Fully qualified account names",
https://learn.microsoft.com/openspecs/windows_protocols/ms-lsat/2c0e8a6d-df0f-4c77-bbeb-f7cd0f6b2361); we
assume VSS resolves through it, so a UPN value works (medium confidence: not stated by Microsoft for VSS).
The controller cannot tell that ``svc@lab.example`` and ``LAB\\svc`` are one account, so they are two values;
with ``resolve`` the host reports each account's SID and the merge warns when two listed names are one SID.
Prefer ``DOMAIN\\name``, the documented form.

A value whose data is not one of 0 to 3 (another number, or another registry type, which host_facts reads as
a string) is replaced by a REG_DWORD of the wanted access. An existing 0 (deny) for a listed account that is
to be allowed is changed and reported with ``was_denied: true`` and a message saying so.

What the PowerShell module (``vss_access_control.ps1``) is given and reports
-----------------------------------------------------------------------------
Arguments (``module_args``): ``operations``, a list of ``{'action': 'set', 'name', 'value'}`` (value 0 to
3) and ``{'action': 'remove', 'name'}``, in order, ``name`` being the exact value name to write or remove;
``resolve``, a list of account names to translate to SIDs first. The module:

1. opens ``HKLM:\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl`` through .NET
   (``[Microsoft.Win32.Registry]::LocalMachine.CreateSubKey(...)`` only when there is a ``set``; a missing
   key with only removals is "nothing to remove"), never through provider paths, so that names with ``[``,
   ``*`` or ``\\`` are taken literally;
2. resolves each ``resolve`` name (``[System.Security.Principal.NTAccount]::new($name).Translate(
   [System.Security.Principal.SecurityIdentifier])``), each in its own try/catch; an account that does not
   resolve is reported ``failed`` with the exception message, and its ``set`` is skipped;
3. carries out each operation in its own try/catch: ``SetValue($name, [int]$value, 'DWord')`` /
   ``DeleteValue($name, $false)``, then reads the value back (``GetValue``, ``GetValueKind``) and reports
   ``failed`` when the read-back differs; in check mode it changes nothing and reports what it would do;
4. returns ``accounts``: one ``{'name', 'status': ok|changed|failed, 'before', 'after', 'sid'?, 'error'?}``
   per name met in ``operations`` or ``resolve`` (``before`` / ``after`` the data read before and after,
   ``null`` for no value), and ``values``: the whole key read back (name -> data).

The action plugin calls the module when there are operations (not in check mode), or when ``resolve`` is
on (in check mode too: the module resolves, and writes nothing in check mode). See :func:`needs_host`.
"""
from ansible_collections.hyperv.backup.plugins.plugin_utils._text import check_text
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type

KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl"
ACCESS = {"deny": 0, "writer": 1, "requester": 2, "both": 3}
ACCESS_NAMES = {value: name for name, value in ACCESS.items()}
STATES = ("present", "absent")
STATUSES = ("changed", "ok", "failed")
MAX_VALUE_NAME = 16383


def describe(data):
    """``1`` -> ``'1 (writer)'``; anything that is not 0 to 3 is shown as it is, with what it is not."""
    if data is None:
        return "no value"
    if _is_access_value(data):
        return f"{data} ({ACCESS_NAMES[data]})"
    return f"{data!r} (not a documented VssAccessControl value)"


def _is_access_value(data):
    return isinstance(data, int) and not isinstance(data, bool) and data in ACCESS_NAMES


def fold(name):
    """A value name as Windows compares it: each character upper-cased on its own (``ß`` stays ``ß``)."""
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in name)


def check_account_name(name, option="accounts"):
    """Return ``name`` unchanged if it can be a VssAccessControl value name, or raise PlanError naming it."""
    check_text(name, option, "an account name", "; write DOMAIN\\name")
    if len(name) > MAX_VALUE_NAME:
        raise PlanError(f"{option}: '{name[:40]}...' is {len(name)} characters long; a registry value name has at "
                        f"most {MAX_VALUE_NAME}")
    if "\\" in name:
        domain, _sep, user = name.partition("\\")
        if "\\" in user:
            raise PlanError(f"{option}: '{name}' has more than one backslash; write DOMAIN\\name")
        if not domain or not user:
            raise PlanError(f"{option}: '{name}' has an empty {'domain' if not domain else 'user'} part; "
                            "write DOMAIN\\name")
    elif "@" in name:
        user, _sep, domain = name.rpartition("@")
        if not user or not domain:
            raise PlanError(f"{option}: '{name}' has an empty {'user' if not user else 'domain'} part; "
                            "write name@domain or DOMAIN\\name")
    else:
        raise PlanError(f"{option}: '{name}' has no domain part; write DOMAIN\\name (the computer's name for a "
                        "local account, NT AUTHORITY for a service identity) or name@domain")
    return name


def parse_access(value, where="access"):
    """``'writer'`` / ``1`` / ``'1'`` -> 1; raises PlanError naming anything else."""
    if isinstance(value, bool):
        raise PlanError(f"{where}: {value!r} is not an access; choose from {', '.join(ACCESS)} or 0 to 3")
    if isinstance(value, int) and value in ACCESS_NAMES:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ACCESS:
            return ACCESS[text]
        if text in ("0", "1", "2", "3"):
            return int(text)
    raise PlanError(f"{where}: {value!r} is not an access; choose from {', '.join(ACCESS)} or 0 to 3 "
                    "(0 deny, 1 writer, 2 requester, 3 both)")


def normalize_accounts(accounts, state="present"):
    """The ``accounts`` option -> ``[{'name', 'access': int or None}]`` (None: allowed as a writer at least),
    without repeats; raises PlanError naming the bad entry."""
    if not isinstance(accounts, (list, tuple)):
        raise PlanError(f"accounts: expected a list of account names, got {describe_type(accounts)}")
    result, seen = [], {}
    for index, item in enumerate(accounts):
        where = f"accounts[{index}]"
        if isinstance(item, dict):
            unknown = sorted(set(item) - {"name", "access"})
            if unknown:
                raise PlanError(f"{where}: unknown keys {', '.join(unknown)}; an entry has name and access")
            if "name" not in item:
                raise PlanError(f"{where}: {item!r} has no name")
            name = check_account_name(item["name"], where)
            access = None
            if item.get("access") is not None:
                if state == "absent":
                    raise PlanError(f"{where}: access has no meaning with state=absent (the value of "
                                    f"'{name}' is removed whatever it is); leave it out")
                access = parse_access(item["access"], f"{where}.access")
        else:
            name, access = check_account_name(item, where), None
        key = fold(name)
        if key in seen:
            first = seen[key]
            if first["access"] != access:
                raise PlanError(f"{where}: '{name}' is listed twice with different access "
                                f"({_access_text(first['access'])} and {_access_text(access)})")
            continue
        seen[key] = {"name": name, "access": access}
        result.append(seen[key])
    return result


def _access_text(access):
    return "writer at least (default)" if access is None else describe(access)


def check_options(options):
    """Validate the options that need no host facts; returns the normalized accounts."""
    state = options.get("state") or "present"
    if state not in STATES:
        raise PlanError(f"state: '{state}' is not one of {', '.join(STATES)}")
    accounts = normalize_accounts(options.get("accounts") if options.get("accounts") is not None else [], state)
    if options.get("exclusive"):
        if state == "absent":
            raise PlanError("exclusive: only with state=present (it removes the values of accounts not listed)")
        if not accounts:
            raise PlanError("exclusive: with no accounts listed it would remove every VssAccessControl value; "
                            "list the accounts to keep")
    return accounts


def _wanted(access, before):
    """The data an account must end with, given its ``access`` (None: writer at least) and its data now."""
    if access is not None:
        return access
    if before in (1, 3) and _is_access_value(before):
        return before
    if before == 2 and _is_access_value(before):
        return 3
    return 1


def _message(before, after):
    if before == after:
        return None
    if after is None:
        return f"removed (was {describe(before)})"
    if before is None:
        return f"added as {describe(after)}"
    if before == 0 and _is_access_value(before):
        return f"was denied (0); now {describe(after)}"
    return f"was {describe(before)}; now {describe(after)}"


def plan(facts, options):
    """One node's ``hyperv_backup`` facts (with ``vss_access_control``) and the options -> the plan.

    Returns ``{'node', 'key', 'state', 'accounts': [entry...], 'operations': [op...], 'resolve': [names],
    'before': {name: data}, 'after': {name: data}, 'changed'}``. An entry is ``{'name', 'value_name', 'listed',
    'access', 'before', 'after', 'status': ok|changed, 'was_denied', 'msg'?}``: ``name`` as the user wrote it
    (the existing value's name for an entry removed by ``exclusive``), ``value_name`` the registry value it
    concerns (the existing spelling when there is one). ``after`` / ``before`` of the plan are the whole key.
    """
    accounts = check_options(options)
    state = options.get("state") or "present"
    node = (facts.get("node") or {}).get("Name", "this node")
    if "vss_access_control" not in facts:
        raise PlanError(f"the facts of {node} have no vss_access_control; gather it with host_facts "
                        "(gather_subset vss_access_control)")
    current = facts.get("vss_access_control") or {}
    if not isinstance(current, dict):
        raise PlanError(f"vss_access_control of {node} is {describe_type(current)}, not a name -> value map")
    existing = {}
    for value_name, data in current.items():
        existing.setdefault(fold(value_name), (value_name, data))

    entries, operations, listed_keys = [], [], set()
    for account in accounts:
        key = fold(account["name"])
        listed_keys.add(key)
        value_name, before = existing.get(key, (account["name"], None))
        after = None if state == "absent" else _wanted(account["access"], before)
        entries.append(_entry(account["name"], value_name, True, account["access"], before, after,
                              present=key in existing))
    if options.get("exclusive"):
        for key in sorted(set(existing) - listed_keys):
            value_name, before = existing[key]
            entries.append(_entry(value_name, value_name, False, None, before, None, present=True))
            entries[-1]["msg"] = f"not listed and exclusive: removed (was {describe(before)})"

    for entry in entries:
        if entry["status"] == "changed":
            if entry["after"] is None:
                operations.append({"action": "remove", "name": entry["value_name"]})
            else:
                operations.append({"action": "set", "name": entry["value_name"], "value": entry["after"]})

    after_map = dict(current.items())
    for entry in entries:
        if entry["after"] is None:
            after_map.pop(entry["value_name"], None)
        else:
            after_map[entry["value_name"]] = entry["after"]
    resolve = [e["value_name"] for e in entries if e["listed"] and state == "present"] if options.get("resolve") else []
    return {"node": node, "key": KEY, "state": state, "accounts": entries, "operations": operations,
            "resolve": resolve, "before": _sorted_map(current), "after": _sorted_map(after_map),
            "changed": bool(operations)}


def _entry(name, value_name, listed, access, before, after, present):
    changed = (after is None and present) or (after is not None and not (before == after and _is_access_value(before)))
    entry = {"name": name, "value_name": value_name, "listed": listed,
             "access": ACCESS_NAMES.get(after) if after is not None else None,
             "before": before, "after": after if changed else before,
             "status": "changed" if changed else "ok",
             "was_denied": bool(changed and before == 0 and _is_access_value(before) and after is not None)}
    if changed:
        entry["msg"] = _message(before, after) or f"rewritten as {describe(after)}"
    return entry


def _sorted_map(values):
    return {name: values[name] for name in sorted(values, key=lambda n: (fold(n), n))}


def module_args(the_plan, options=None):
    """The arguments of ``vss_access_control.ps1`` for a plan."""
    return {"operations": the_plan["operations"], "resolve": the_plan["resolve"]}


def needs_host(the_plan, check_mode):
    """Whether the action plugin must call the module: to apply (not in check mode) or to resolve names."""
    return bool(the_plan["resolve"]) or (bool(the_plan["operations"]) and not check_mode)


def merge(the_plan, apply_result=None):
    """The plan, with what ``vss_access_control.ps1`` reported per account; the host's read-back wins.

    Returns ``{'accounts', 'counts', 'changed', 'values', 'diff', 'warnings'}``; ``values`` is the whole key
    as the host read it back (the plan's prediction without an apply).
    """
    reported = {}
    if apply_result is not None:
        for item in apply_result.get("accounts") or []:
            reported[fold(str(item.get("name", "")))] = item
    asked = {fold(name) for name in the_plan["resolve"]} | {fold(op["name"]) for op in the_plan["operations"]}
    entries, warnings = [], []
    for planned in the_plan["accounts"]:
        entry = dict(planned)
        key = fold(planned["value_name"])
        item = reported.get(key)
        if apply_result is not None and key in asked:
            if item is None:
                entry.update(status="failed", after=planned["before"], msg="the host reported nothing for this account")
            else:
                # "ok" for a planned change: already so when the host looked (another run got there first).
                status = item.get("status") if item.get("status") in STATUSES else "failed"
                entry["status"] = status
                entry["after"] = item.get("after") if "after" in item else (
                    planned["after"] if status == "changed" else planned["before"])
                if item.get("sid"):
                    entry["sid"] = item["sid"]
                if item.get("error"):
                    entry["msg"] = item["error"]
                entry["was_denied"] = bool(status == "changed" and planned["was_denied"])
        entries.append(entry)

    by_sid = {}
    for entry in entries:
        if entry.get("sid"):
            by_sid.setdefault(entry["sid"].upper(), []).append(entry["value_name"])
    for sid, names in sorted(by_sid.items()):
        if len(names) > 1:
            warnings.append(f"{' and '.join(repr(n) for n in names)} are one account ({sid}): two values name it")

    values = the_plan["after"]
    if apply_result is not None and isinstance(apply_result.get("values"), dict):
        values = _sorted_map(apply_result["values"])
    counts = {status: sum(1 for e in entries if e["status"] == status) for status in STATUSES}
    return {"accounts": entries, "counts": counts, "changed": counts["changed"] > 0, "values": values,
            "diff": {"before": dict(the_plan["before"]), "after": dict(values)}, "warnings": warnings}
