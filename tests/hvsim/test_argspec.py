"""Ansible.Basic's argument handling, as hvsim applies it before an operation runs."""
import pytest

from hvsim.argspec import ArgSpecFail, ArgSpecInvalid, NO_LOG_MASK, prepare

SPEC = {
    "options": {
        "gather_subset": {"type": "list", "elements": "str", "choices": ["vms", "cluster"],
                          "default": ["vms", "cluster"]},
        "name": {"type": "str", "required": True, "aliases": ["vm_name"]},
        "count": {"type": "int"},
        "force": {"type": "bool", "default": False},
        "folder": {"type": "path"},
        "mode": {"type": "str", "choices": ["Live", "Quick"]},
        "target": {"type": "dict", "options": {"node": {"type": "str", "required": True},
                                               "wait": {"type": "bool", "default": True}}},
        "acl": {"type": "list", "elements": "dict", "options": {"sid": {"type": "str", "required": True},
                                                               "rights": {"type": "str", "default": "FullControl"}}},
        "secret": {"type": "str", "no_log": True},
        "extra": {"type": "raw"},
    },
    "mutually_exclusive": [["count", "mode"]],
    "required_together": [["folder", "secret"]],
    "supports_check_mode": True,
}
PASS = {"_ansible_check_mode": False, "_ansible_diff": False, "_ansible_verbosity": 0,
        "_ansible_module_name": "hyperv.backup.demo", "_ansible_version": "2.19.14",
        "_ansible_selinux_special_fs": ["fuse"], "_ansible_no_log": False}


def fail_msg(args, spec=SPEC):
    with pytest.raises(ArgSpecFail) as err:
        prepare(spec, dict(PASS, **args))
    return err.value.msg


def test_defaults_types_and_pass_vars():
    got = prepare(SPEC, dict(PASS, name="SQL01", count="7", force="yes", _ansible_check_mode=True,
                             _ansible_diff="true", _ansible_verbosity="3"))
    assert got.params["count"] == 7 and got.params["force"] is True
    assert got.params["gather_subset"] == ["vms", "cluster"]
    assert got.params["mode"] is None and got.params["target"] is None  # absent options become null
    assert got.check_mode and got.diff and got.verbosity == 3 and got.module_name == "hyperv.backup.demo"
    assert not any(key.startswith("_ansible_") for key in got.params)


def test_unsupported_parameters_wording():
    assert fail_msg({"name": "a", "nope": 1, "bogus": 2}) == (
        "Unsupported parameters for (hyperv.backup.demo) module: bogus, nope. Supported parameters include: "
        "acl, count, extra, folder, force, gather_subset, mode, name, secret, target, vm_name")


def test_unknown_pass_var_from_a_newer_controller_is_accepted():
    assert prepare(SPEC, dict(PASS, name="a", _ansible_inject_invocation=False,
                              _ansible_some_future_key=1)).inject_invocation is False


def test_case_insensitive_option_names_are_renamed():
    assert prepare(SPEC, dict(PASS, NAME="a")).params["name"] == "a"


def test_alias():
    assert prepare(SPEC, dict(PASS, vm_name="SQL02")).params["name"] == "SQL02"


def test_required():
    assert fail_msg({}) == "missing required arguments: name"


def test_choices_for_str_and_list():
    assert fail_msg({"name": "a", "mode": "Slow"}) == "value of mode must be one of: Live, Quick. Got no match for: Slow"
    assert fail_msg({"name": "a", "gather_subset": ["vms", "disks", "x"]}) == (
        "value of gather_subset must be one or more of: vms, cluster. Got no match for: disks, x")
    # Ansible.Basic matches choices case-insensitively and keeps the given value.
    assert prepare(SPEC, dict(PASS, name="a", mode="live")).params["mode"] == "live"


@pytest.mark.parametrize("args, message", [
    ({"count": "seven"}, "argument for count is of type System.String and we were unable to convert to int: "
                         "Input string was not in a correct format."),
    ({"count": 1.5}, "argument for count is of type System.Decimal and we were unable to convert to int"),
    ({"count": 2 ** 40}, "Value was either too large or too small for an Int32."),
    ({"force": "maybe"}, "argument for force is of type System.String and we were unable to convert to bool: "
                         "The value 'maybe' is not a valid boolean."),
    ({"gather_subset": {"a": 1}}, "System.Collections.Generic.Dictionary`2[System.String,System.Object] cannot "
                                  "be converted to a list"),
    ({"target": "justtext"}, "string cannot be converted to a dict"),
    ({"folder": "C:\\bad|path", "secret": "s"}, "contains invalid path characters"),
])
def test_type_errors_name_the_option(args, message):
    assert message in fail_msg(dict({"name": "a"}, **args))


def test_str_of_other_json_types_is_dotnet_tostring():
    assert prepare(SPEC, dict(PASS, name=True)).params["name"] == "True"
    assert prepare(SPEC, dict(PASS, name=12)).params["name"] == "12"
    assert prepare(SPEC, dict(PASS, name=[1])).params["name"] == "System.Collections.ArrayList"


def test_list_from_comma_string():
    assert prepare(SPEC, dict(PASS, name="a", gather_subset="vms, cluster")).params["gather_subset"] == ["vms", "cluster"]


def test_list_elements_are_converted():
    spec = {"options": {"ports": {"type": "list", "elements": "int"}}}
    assert prepare(spec, {"ports": ["1", 2]}).params["ports"] == [1, 2]
    msg = fail_msg({"ports": ["x"]}, spec)
    assert msg.startswith("argument for list entry ports is of type System.String and we were unable to convert to int")


def test_sub_options_dict_and_list_of_dicts():
    got = prepare(SPEC, dict(PASS, name="a", target={"node": "HV02"},
                             acl=[{"sid": "S-1-5-32-544"}, {"sid": "S-1-1-0", "rights": "Read"}]))
    assert got.params["target"] == {"node": "HV02", "wait": True}
    assert got.params["acl"] == [{"sid": "S-1-5-32-544", "rights": "FullControl"}, {"sid": "S-1-1-0", "rights": "Read"}]
    assert fail_msg({"name": "a", "target": {"wait": False}}) == "missing required arguments: node found in target"
    assert fail_msg({"name": "a", "acl": [{"sid": "x", "who": 1}]}) == (
        "Unsupported parameters for (hyperv.backup.demo) module: who found in acl. "
        "Supported parameters include: rights, sid")
    assert prepare(SPEC, dict(PASS, name="a", target="node=HV01 wait=no")).params["target"] == {"node": "HV01", "wait": False}


def test_mutually_exclusive_and_required_together():
    assert fail_msg({"name": "a", "count": 1, "mode": "Live"}) == "parameters are mutually exclusive: count, mode"
    assert fail_msg({"name": "a", "folder": "C:\\x"}) == "parameters are required together: folder, secret"


def test_required_if_one_of_and_by():
    spec = {"options": {"state": {"type": "str"}, "path": {"type": "str"}, "a": {"type": "str"}, "b": {"type": "str"}},
            "required_if": [["state", "present", ["path"]]], "required_one_of": [["a", "b"]],
            "required_by": {"path": ["a"]}}
    assert fail_msg({"state": "present", "a": "1"}, spec) == "state is present but all of the following are missing: path"
    assert fail_msg({}, spec) == "one of the following is required: a, b"
    assert fail_msg({"path": "p", "b": "1"}, spec) == "missing parameter(s) required by 'path': a"


def test_check_mode_not_supported_is_skipped():
    got = prepare({"options": {}}, dict(PASS, _ansible_check_mode=True))
    assert got.skipped == {"changed": False, "skipped": True,
                           "msg": "remote module (hyperv.backup.demo) does not support check mode"}
    assert prepare({"options": {}}, dict(PASS)).skipped is None


def test_no_log_values_are_masked_in_invocation():
    got = prepare(SPEC, dict(PASS, name="a", folder="C:\\x", secret="hunter2", extra={"copy": "hunter2"}))
    assert got.params["secret"] == "hunter2"
    assert got.invocation()["module_args"]["secret"] == NO_LOG_MASK
    assert got.invocation()["module_args"]["extra"] == {"copy": NO_LOG_MASK}


def test_invalid_spec():
    with pytest.raises(ArgSpecInvalid, match="invalid key 'requird'"):
        prepare({"options": {"a": {"requird": True}}}, {})
    with pytest.raises(ArgSpecInvalid, match="required and default are mutually exclusive for a"):
        prepare({"options": {"a": {"required": True, "default": "x"}}}, {})
    with pytest.raises(ArgSpecInvalid, match="type 'sid'"):
        prepare({"options": {"a": {"type": "sid"}}}, {})


def test_inputs_are_not_mutated():
    args = dict(PASS, name="a", target={"node": "x"})
    prepare(SPEC, args)
    assert args["target"] == {"node": "x"} and "_ansible_check_mode" in args
