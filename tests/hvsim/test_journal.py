"""hvsim's journal: every module run with its node, module, check mode and the arguments as received."""

NAMES = ["O'Brien $(test); x", "tick`s `$(Get-Date)", "\u00dcn\u00efc\u00f6d\u00e9-VM \u6570\u636e\u5e93", 'say "hi"\\']


def test_the_journal_records_the_arguments_as_received_without_ansible_keys(lab):
    for name in NAMES:
        rc, result, _ = lab.call("HV01", "echo", {"text": name}, check_mode=True, diff=True)
        assert rc == 0 and result["text"] == name
    entries = lab.journal
    assert [e["args"] for e in entries] == [{"text": name} for name in NAMES]
    assert all(e["node"] == "HV01" and e["module"] == "echo" and e["check_mode"] is True for e in entries)


def test_the_arguments_are_recorded_before_validation_and_not_shared_with_the_operation(lab):
    rc, result, _ = lab.call("HV02", "echo", {"text": "x", "times": "3"})
    assert rc == 0 and result["text"] == "xxx"
    [entry] = lab.journal
    assert entry["args"] == {"text": "x", "times": "3"}   # as sent; argument validation converted it for the run
    assert entry["check_mode"] is False


def test_a_module_hvsim_does_not_implement_is_journaled_too(lab):
    rc, result, _ = lab.call("HV01", "nope", {"a": [1, {"b": None}]})
    assert rc == 1 and "does not implement" in result["msg"]
    assert lab.journal[-1]["module"] == "nope" and lab.journal[-1]["args"] == {"a": [1, {"b": None}]}
