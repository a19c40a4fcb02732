import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.hyperv.backup.plugins.plugin_utils import _vss_access_control as planner
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError
from tests.unit.factsdata import node


def facts(values):
    return node("HV01", [], vss_access_control=values)


def run(values, **options):
    return planner.plan(facts(values), options)


def by_name(the_plan):
    return {entry["name"]: entry for entry in the_plan["accounts"]}


# --- what a value becomes ---------------------------------------------------------------------------------

def test_missing_account_is_added_as_writer_the_field_fix():
    the_plan = run({}, accounts=["LAB\\svc-backup"])
    assert the_plan["operations"] == [{"action": "set", "name": "LAB\\svc-backup", "value": 1}]
    entry = by_name(the_plan)["LAB\\svc-backup"]
    assert (entry["status"], entry["before"], entry["after"], entry["access"]) == ("changed", None, 1, "writer")
    assert entry["msg"] == "added as 1 (writer)"
    assert the_plan["after"] == {"LAB\\svc-backup": 1}
    assert the_plan["changed"] is True and run({"LAB\\svc-backup": 1}, accounts=["LAB\\svc-backup"])["changed"] is False


@pytest.mark.parametrize("existing, expected", [(1, 1), (3, 3), (2, 3), (0, 1), (7, 1), ("1", 1)])
def test_default_access_is_writer_at_least_and_keeps_requester_access(existing, expected):
    the_plan = run({"LAB\\svc": existing}, accounts=["LAB\\svc"])
    entry = by_name(the_plan)["LAB\\svc"]
    assert entry["after"] == expected
    assert entry["status"] == ("ok" if existing == expected and isinstance(existing, int) else "changed")
    assert the_plan["operations"] == ([] if entry["status"] == "ok" else
                                      [{"action": "set", "name": "LAB\\svc", "value": expected}])


@pytest.mark.parametrize("access, value", [("deny", 0), ("writer", 1), ("Requester", 2), ("BOTH", 3), (2, 2), ("3", 3)])
def test_explicit_access_is_exact(access, value):
    the_plan = run({"LAB\\svc": 3}, accounts=[{"name": "LAB\\svc", "access": access}])
    entry = by_name(the_plan)["LAB\\svc"]
    assert entry["after"] == value
    assert entry["status"] == ("ok" if value == 3 else "changed")


def test_a_denied_account_is_changed_and_says_it_was_denied():
    the_plan = run({"LAB\\svc": 0}, accounts=["LAB\\svc"])
    entry = by_name(the_plan)["LAB\\svc"]
    assert entry["was_denied"] is True
    assert entry["msg"] == "was denied (0); now 1 (writer)"
    allowed = by_name(run({"LAB\\svc": 2}, accounts=["LAB\\svc"]))["LAB\\svc"]
    assert allowed["was_denied"] is False and allowed["msg"] == "was 2 (requester); now 3 (both)"


def test_denying_an_account_that_was_denied_is_ok_and_not_flagged():
    entry = by_name(run({"LAB\\svc": 0}, accounts=[{"name": "LAB\\svc", "access": "deny"}]))["LAB\\svc"]
    assert entry["status"] == "ok" and entry["was_denied"] is False


def test_a_value_that_is_not_a_documented_dword_is_rewritten():
    entry = by_name(run({"LAB\\svc": "1"}, accounts=["LAB\\svc"]))["LAB\\svc"]
    assert entry["status"] == "changed"
    assert entry["msg"] == "was '1' (not a documented VssAccessControl value); now 1 (writer)"


# --- names compare as Windows compares value names ---------------------------------------------------------

def test_existing_value_in_another_case_is_updated_in_place_not_duplicated():
    the_plan = run({"lab\\SVC-Backup": 0, "LAB\\other": 1}, accounts=["LAB\\svc-backup"])
    assert the_plan["operations"] == [{"action": "set", "name": "lab\\SVC-Backup", "value": 1}]
    entry = by_name(the_plan)["LAB\\svc-backup"]
    assert entry["value_name"] == "lab\\SVC-Backup"
    assert the_plan["after"] == {"LAB\\other": 1, "lab\\SVC-Backup": 1}


def test_case_folding_is_per_character_like_windows():
    # Python's "ß".upper() is "SS"; Windows compares character by character, so these are two names.
    the_plan = run({"LAB\\strasse": 1}, accounts=["LAB\\STRAßE"])
    assert the_plan["operations"] == [{"action": "set", "name": "LAB\\STRAßE", "value": 1}]
    assert planner.fold("é") == "É"


def test_absent_removes_under_the_existing_spelling_and_ignores_missing():
    the_plan = run({"lab\\svc": 3}, accounts=["LAB\\SVC", "LAB\\gone"], state="absent")
    assert the_plan["operations"] == [{"action": "remove", "name": "lab\\svc"}]
    entries = by_name(the_plan)
    assert entries["LAB\\SVC"]["msg"] == "removed (was 3 (both))"
    assert entries["LAB\\gone"]["status"] == "ok" and entries["LAB\\gone"]["after"] is None
    assert the_plan["after"] == {}


def test_exclusive_removes_values_not_listed_and_only_those():
    values = {"LAB\\keep": 1, "LAB\\old": 1, "OTHER\\denied": 0}
    the_plan = run(values, accounts=["lab\\KEEP"], exclusive=True)
    assert the_plan["operations"] == [{"action": "remove", "name": "LAB\\old"}, {"action": "remove", "name": "OTHER\\denied"}]
    extra = by_name(the_plan)["LAB\\old"]
    assert extra["listed"] is False and extra["msg"] == "not listed and exclusive: removed (was 1 (writer))"
    assert the_plan["after"] == {"LAB\\keep": 1}


def test_without_exclusive_other_values_are_left_alone():
    values = {"LAB\\a": 0, "LAB\\b": 2}
    the_plan = run(values, accounts=["LAB\\c"])
    assert [op["name"] for op in the_plan["operations"]] == ["LAB\\c"]
    assert the_plan["after"] == {"LAB\\a": 0, "LAB\\b": 2, "LAB\\c": 1}


def test_listing_twice_with_the_same_access_is_one_entry():
    the_plan = run({}, accounts=["LAB\\svc", "lab\\SVC", {"name": "LAB\\svc"}])
    assert len(the_plan["accounts"]) == 1 and len(the_plan["operations"]) == 1


# --- names are data --------------------------------------------------------------------------------------

NAMES = [
    "LAB\\svc backup",
    "LAB\\o'brien",
    "LAB\\\"quoted\"",
    "LAB\\$(Remove-Item C:)",
    "LAB\\svc;whoami`",
    "LAB\\HV01$",
    "ÉQUIPE\\sauvegarde-ç",
    "LAB\\Ŝtraße",
    "svc-backup@lab.example",
    "o'brien@lab.example",
    "NT AUTHORITY\\NETWORK SERVICE",
]


@pytest.mark.parametrize("name", NAMES)
def test_names_with_quotes_dollar_and_non_ascii_arrive_byte_for_byte(name):
    the_plan = run({}, accounts=[name], resolve=True)
    assert the_plan["operations"] == [{"action": "set", "name": name, "value": 1}]
    assert the_plan["resolve"] == [name]
    assert planner.module_args(the_plan) == {"operations": [{"action": "set", "name": name, "value": 1}], "resolve": [name]}


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\\@"), min_size=1, max_size=20)
       .filter(lambda t: t == t.strip() and t.strip()),
       st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\\"), min_size=1, max_size=20)
       .filter(lambda t: t == t.strip() and t.strip()))
def test_any_printable_domain_and_user_pass_unchanged(domain, user):
    name = f"{domain}\\{user}"
    the_plan = run({}, accounts=[name])
    assert the_plan["operations"][0]["name"] == name


@pytest.mark.parametrize(
    "bad, message",
    [
        ("", "an empty string is not an account name"),
        ("   ", "an empty string is not an account name"),
        ("svc-backup", "'svc-backup' has no domain part"),
        ("LAB\\", "'LAB\\\\' has an empty user part"),
        ("\\svc", "has an empty domain part"),
        ("LAB\\svc\\x", "has more than one backslash"),
        ("@lab.example", "has an empty user part"),
        ("svc@", "has an empty domain part"),
        ("LAB\\svc\n", "contains the control character U\\+000A"),
        ("LAB\\s\x00vc", "contains the control character U\\+0000"),
        ("LAB\\s\x85vc", "contains the control character U\\+0085"),
        (" LAB\\svc", "has leading or trailing whitespace"),
        ("LAB\\svc ", "has leading or trailing whitespace"),
        (42, "42 \\(an integer\\) is not an account name"),
        (None, "None \\(null\\) is not an account name"),
        ("LAB\\" + "x" * 16380, "is 16384 characters long"),
    ],
)
def test_bad_names_are_errors_naming_the_value_before_anything_changes(bad, message):
    with pytest.raises(PlanError, match=message):
        run({"LAB\\svc": 1}, accounts=["LAB\\fine", bad])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"accounts": [{"name": "LAB\\svc", "access": "admin"}]}, "accounts\\[0\\].access: 'admin' is not an access; choose from deny, writer, requester, both"),
        ({"accounts": [{"name": "LAB\\svc", "access": 4}]}, "4 is not an access"),
        ({"accounts": [{"name": "LAB\\svc", "access": True}]}, "True is not an access"),
        ({"accounts": [{"name": "LAB\\svc", "acess": 1}]}, "accounts\\[0\\]: unknown keys acess"),
        ({"accounts": [{"access": 1}]}, "accounts\\[0\\]: .* has no name"),
        ({"accounts": ["LAB\\svc", {"name": "lab\\svc", "access": "both"}]}, "'lab\\\\svc' is listed twice with different access"),
        ({"accounts": [{"name": "LAB\\svc", "access": 1}], "state": "absent"}, "access has no meaning with state=absent"),
        ({"accounts": ["LAB\\svc"], "state": "absent", "exclusive": True}, "exclusive: only with state=present"),
        ({"accounts": [], "exclusive": True}, "would remove every VssAccessControl value"),
        ({"accounts": ["LAB\\svc"], "state": "gone"}, "state: 'gone' is not one of present, absent"),
        ({"accounts": "LAB\\svc"}, "accounts: expected a list"),
    ],
)
def test_bad_options_are_errors(options, message):
    with pytest.raises(PlanError, match=message):
        planner.plan(facts({}), options)


def test_facts_without_vss_access_control_are_refused():
    data = facts({})
    del data["vss_access_control"]
    with pytest.raises(PlanError, match="the facts of HV01 have no vss_access_control"):
        planner.plan(data, {"accounts": ["LAB\\svc"]})


# --- resolve, the host call, the merge ---------------------------------------------------------------------

def test_resolve_asks_for_every_listed_account_even_when_nothing_changes():
    the_plan = run({"LAB\\svc": 1}, accounts=["LAB\\svc"], resolve=True)
    assert the_plan["operations"] == [] and the_plan["resolve"] == ["LAB\\svc"]
    assert planner.needs_host(the_plan, check_mode=True) is True
    quiet = run({"LAB\\svc": 1}, accounts=["LAB\\svc"])
    assert planner.needs_host(quiet, check_mode=False) is False
    busy = run({}, accounts=["LAB\\svc"])
    assert planner.needs_host(busy, check_mode=False) is True and planner.needs_host(busy, check_mode=True) is False


def test_resolve_is_not_asked_for_removals():
    assert run({"LAB\\svc": 1}, accounts=["LAB\\svc"], state="absent", resolve=True)["resolve"] == []


def test_check_mode_answer_is_the_plan():
    the_plan = run({"LAB\\svc": 0, "LAB\\x": 1}, accounts=["LAB\\svc"], exclusive=True)
    final = planner.merge(the_plan, None)
    assert final["changed"] is True and final["counts"] == {"changed": 2, "ok": 0, "failed": 0}
    assert final["diff"] == {"before": {"LAB\\svc": 0, "LAB\\x": 1}, "after": {"LAB\\svc": 1}}
    assert final["values"] == {"LAB\\svc": 1}


def test_merge_takes_the_hosts_read_back_and_its_failures():
    the_plan = run({"LAB\\denied": 0}, accounts=["LAB\\denied", "LAB\\nobody", "LAB\\ok"], resolve=True)
    applied = {
        "accounts": [
            {"name": "LAB\\denied", "status": "changed", "before": 0, "after": 1, "sid": "S-1-5-21-1-2-3-1105"},
            {"name": "LAB\\nobody", "status": "failed", "before": None, "after": None,
             "error": "Some or all identity references could not be translated."},
            {"name": "lab\\OK", "status": "changed", "before": None, "after": 1, "sid": "S-1-5-21-1-2-3-1105"},
        ],
        "values": {"LAB\\denied": 1, "LAB\\ok": 1},
    }
    final = planner.merge(the_plan, applied)
    entries = {e["name"]: e for e in final["accounts"]}
    assert entries["LAB\\denied"]["was_denied"] is True and entries["LAB\\denied"]["sid"] == "S-1-5-21-1-2-3-1105"
    assert entries["LAB\\nobody"]["status"] == "failed"
    assert entries["LAB\\nobody"]["msg"] == "Some or all identity references could not be translated."
    assert entries["LAB\\nobody"]["after"] is None
    assert final["counts"] == {"changed": 2, "ok": 0, "failed": 1}
    assert final["values"] == {"LAB\\denied": 1, "LAB\\ok": 1}
    assert final["warnings"] == ["'LAB\\\\denied' and 'LAB\\\\ok' are one account (S-1-5-21-1-2-3-1105): two values name it"]


def test_merge_fails_an_account_the_host_did_not_report():
    the_plan = run({}, accounts=["LAB\\svc"])
    final = planner.merge(the_plan, {"accounts": [], "values": {}})
    entry = final["accounts"][0]
    assert entry["status"] == "failed" and entry["after"] is None
    assert entry["msg"] == "the host reported nothing for this account"


def test_a_change_another_run_made_first_is_ok():
    the_plan = run({}, accounts=["LAB\\svc"])
    final = planner.merge(the_plan, {"accounts": [{"name": "LAB\\svc", "status": "ok", "before": 1, "after": 1}],
                                     "values": {"LAB\\svc": 1}})
    assert final["changed"] is False and final["accounts"][0]["status"] == "ok"


@given(st.dictionaries(st.sampled_from(["LAB\\a", "lab\\B", "LAB\\c", "OTHER\\d"]), st.integers(min_value=0, max_value=5), max_size=4),
       st.lists(st.sampled_from(["LAB\\A", "LAB\\b", "LAB\\e"]), max_size=3),
       st.booleans())
def test_applying_the_plan_converges_and_a_rerun_plans_nothing(values, accounts, exclusive):
    if exclusive and not accounts:
        return
    the_plan = run(values, accounts=accounts, exclusive=exclusive)
    rerun = run(the_plan["after"], accounts=accounts, exclusive=exclusive)
    assert rerun["operations"] == []
    assert all(entry["status"] == "ok" for entry in rerun["accounts"])
    # no value is created twice under two spellings
    folded = [planner.fold(name) for name in the_plan["after"]]
    assert len(folded) == len(set(folded))
    # values of accounts not listed survive unless exclusive
    listed = {planner.fold(a) for a in accounts}
    for name, data in values.items():
        if planner.fold(name) not in listed:
            assert (name in the_plan["after"]) is (not exclusive)
