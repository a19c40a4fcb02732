"""The WS-Management endpoint, spoken to with pywinrm exactly as Ansible's winrm connection does."""
import base64
import os
import threading
import time
import uuid

import pytest
import requests
from winrm.exceptions import InvalidCredentialsError, WSManFaultError

from hvsim import ops, payload
from hvsim.testing import call_module
from hvsim.wsman import CODE_SHELL_NOT_FOUND, RECEIVE_CHUNK
from hvsim.faults import SERVICE_STOPPED_CODE


def test_shell_open_and_close(protocol):
    p = protocol()
    shell_id = p.open_shell(codepage=65001)
    uuid.UUID(shell_id)  # a GUID, as on a host
    p.close_shell(shell_id)  # pywinrm asserts RelatesTo == its MessageID
    with pytest.raises(WSManFaultError) as err:
        p.close_shell(shell_id)
    assert err.value.wsman_fault_code == CODE_SHELL_NOT_FOUND


def test_module_payload_runs_the_operation_and_values_stay_data(protocol):
    text = "x; Remove-Item C:\\ -Recurse"
    rc, result, stderr = call_module(protocol("HV02"), "echo", {"text": text})
    assert rc == 0, stderr
    assert result["text"] == text
    assert result["node"] == "HV02"
    assert result["changed"] is False
    assert result["invocation"] == {"module_args": {"text": text, "times": 1}}


def test_payload_sent_in_many_chunks(protocol):
    rc, result, _ = call_module(protocol(), "echo", {"text": "abc", "times": 3}, chunk_size=97)
    assert rc == 0
    assert result["text"] == "abcabcabc"


def test_check_mode_reaches_the_operation(protocol, lab):
    rc, result, _ = call_module(protocol(), "counter", {}, check_mode=True)
    assert rc == 0 and result["counter"] == 0
    assert "counter" not in lab.read_model()["nodes"][0]


def test_warnings_are_returned(protocol):
    rc, result, _ = call_module(protocol(), "echo", {"text": "warn"})
    assert result["warnings"] == ["echo was asked to warn"]


def test_failures_exit_1_with_json(protocol):
    rc, result, _ = call_module(protocol(), "boom", {"kind": "fail"})
    assert rc == 1
    assert result["failed"] is True and result["msg"] == "boom: asked to fail on HV01" and result["detail"] == "extra"

    rc, result, _ = call_module(protocol(), "boom", {"kind": "crash"})
    assert rc == 1 and "the crash the test asked for" in result["msg"]
    assert "RuntimeError" in result["exception"]

    rc, result, _ = call_module(protocol(), "boom", {"kind": "nope"})
    assert rc == 1
    assert result["msg"] == "value of kind must be one of: fail, crash, dirty. Got no match for: nope"


def test_unknown_module(protocol):
    rc, result, _ = call_module(protocol(), "ansible_collections.ansible.windows.plugins.modules.win_ping.ps1")
    assert rc == 1
    assert result["msg"] == ("hvsim does not implement the module "
                             "'ansible_collections.ansible.windows.plugins.modules.win_ping.ps1'")


def test_async_fails_clearly_become_runs(protocol):
    rc, result, _ = call_module(protocol(), "echo", {"text": "a"}, async_jid="j123")
    assert rc == 1 and "asynchronously" in result["msg"] and "j123" in result["msg"]
    rc, result, _ = call_module(protocol(), "echo", {"text": "a"}, become_user="LAB\\admin")
    assert rc == 0 and result["text"] == "a"


def test_raw_command_is_refused(protocol):
    p = protocol()
    shell = p.open_shell()
    command = p.run_command(shell, "hostname")
    stdout, stderr, rc = p.get_command_output(shell, command)
    p.cleanup_command(shell, command)
    p.close_shell(shell)
    assert rc == 1 and stdout == b""
    assert b"hvsim runs only this collection's PowerShell modules" in stderr
    assert b"'hostname'" in stderr


def test_stdin_that_is_not_a_module_payload_is_refused(protocol):
    p = protocol()
    shell = p.open_shell()
    command = p.run_command(shell, "PowerShell", ["-EncodedCommand", "AAAA"])
    p.send_command_input(shell, command, b"Write-Host hello", end=True)
    stdout, stderr, rc = p.get_command_output(shell, command)
    p.close_shell(shell)
    assert rc == 1 and b"no exec wrapper payload" in stderr


def test_large_output_spans_several_receives(protocol):
    size = 3 * RECEIVE_CHUNK + 1234
    p = protocol()
    shell = p.open_shell()
    command = p.run_command(shell, "PowerShell")
    p.send_command_input(shell, command, payload.encode(ops.MODULE_PREFIX + "big.ps1", {"size": size}), end=True)
    chunks, receives, done = [], 0, False
    while not done:
        out, err, rc, done = p.get_command_output_raw(shell, command)
        chunks.append(out)
        receives += 1
    p.close_shell(shell)
    assert receives >= 4 and rc == 0
    import json
    blob = json.loads(b"".join(chunks))["blob"]
    assert len(blob) == size and blob[:3] == "ABC" and blob[-1] == chr(65 + (size - 1) % 26)


def test_bad_credentials_are_rejected(protocol, lab):
    with pytest.raises(InvalidCredentialsError):
        protocol(passwd="wrong").open_shell()
    response = requests.post(lab.endpoint(), data=b"<x/>", timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="WSMAN"'
    # User names are case-insensitive on Windows, passwords are not.
    user, password = lab.credentials
    p = protocol(username=user.upper())
    p.close_shell(p.open_shell())


def test_unknown_shell_and_command_are_faults(protocol):
    p = protocol()
    with pytest.raises(WSManFaultError) as err:
        p.run_command(str(uuid.uuid4()).upper(), "hostname")
    assert err.value.wsman_fault_code == CODE_SHELL_NOT_FOUND
    assert "shell was not found" in err.value.reason
    shell = p.open_shell()
    with pytest.raises(WSManFaultError) as err:
        p.get_command_output_raw(shell, str(uuid.uuid4()))
    assert "does not exist" in err.value.reason


def test_malformed_request_is_a_fault(lab):
    user, password = lab.credentials
    response = requests.post(lab.endpoint(), data=b"<not xml", auth=(user, password), timeout=5)
    assert response.status_code == 500
    assert b"WSManFault" in response.content and b"not valid XML" in response.content


def test_model_changes_are_saved_and_shared_by_every_endpoint(protocol, lab):
    before = os.stat(lab.model_path).st_mtime_ns
    call_module(protocol("HV01"), "echo", {"text": "read only"})
    assert os.stat(lab.model_path).st_mtime_ns == before  # nothing changed, nothing written

    errors = []

    def bump(node):
        try:
            for _ in range(5):
                rc, result, stderr = call_module(protocol(node), "counter", {})
                assert rc == 0, stderr
        except Exception as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(node,)) for node in ("HV01", "HV02") for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    nodes = {n["name"]: n for n in lab.read_model()["nodes"]}
    assert nodes["HV01"]["counter"] == 20 and nodes["HV02"]["counter"] == 20


def test_model_edited_on_disk_is_seen_by_the_next_request(protocol, lab):
    data = lab.read_model()
    data["nodes"][0]["counter"] = 41
    lab.write_model(data)
    rc, result, _ = call_module(protocol(), "counter", {})
    assert result["counter"] == 42


def test_failed_operation_changes_are_not_kept(protocol, lab):
    rc, result, _ = call_module(protocol(), "boom", {"kind": "dirty"})
    assert rc == 1
    rc, result, _ = call_module(protocol(), "counter", {})
    assert rc == 0
    assert "scribbled" not in lab.read_model()["nodes"][0]


# -- faults ---------------------------------------------------------------------------------------------------
def test_latency(protocol, lab):
    p = protocol()
    start = time.monotonic()
    p.close_shell(p.open_shell())
    fast = time.monotonic() - start
    lab.set_faults(latency_ms=150)
    start = time.monotonic()
    p.close_shell(p.open_shell())
    assert time.monotonic() - start >= 0.3 > fast


def test_fail_nth(protocol, lab):
    lab.set_faults(fail_nth=2)
    assert call_module(protocol(), "echo", {"text": "1"})[0] == 0
    with pytest.raises(WSManFaultError) as err:
        call_module(protocol(), "counter", {})
    assert err.value.wsman_fault_code == SERVICE_STOPPED_CODE
    assert "fail_nth=2" in err.value.reason
    assert "counter" not in lab.read_model()["nodes"][0]  # the module did not run
    assert call_module(protocol(), "echo", {"text": "3"})[0] == 0
    lab.set_faults(fail_nth=1)  # a new value restarts the count
    with pytest.raises(WSManFaultError):
        call_module(protocol(), "echo", {"text": "4"})


def test_drop_nth(protocol, lab):
    lab.set_faults(drop_nth=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        call_module(protocol(), "counter", {})
    # The module ran; only its reply was lost.
    assert lab.read_model()["nodes"][0]["counter"] == 1
    rc, result, _ = call_module(protocol(), "counter", {})
    assert rc == 0 and result["counter"] == 2


def test_many_concurrent_clients(protocol):
    results, errors = [], []

    def worker(index):
        try:
            node = ("HV01", "HV02")[index % 2]
            rc, result, _ = call_module(protocol(node), "echo", {"text": f"t{index}"})
            results.append((index, node, rc, result["text"], result["node"]))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(r[0] for r in results) == list(range(40))
    assert all(rc == 0 and text == f"t{i}" and got == node for i, node, rc, text, got in results)


def test_basic_auth_header_with_garbage_is_401(lab):
    header = "Basic " + base64.b64encode(b"\xff\xfe").decode()
    response = requests.post(lab.endpoint(), data=b"", headers={"Authorization": header}, timeout=5)
    assert response.status_code == 401
