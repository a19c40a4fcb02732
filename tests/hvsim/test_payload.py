"""Decoding ansible-core's PowerShell module payload (shapes of ansible-core 2.19 and 2.21)."""
import json

import pytest

from hvsim import payload

SCRIPT = "ansible_collections.hyperv.backup.plugins.modules.host_facts.ps1"


def real_shaped(version="2.21", actions_before=(), args=None):
    """Stdin in the shape ansible-core sends (sources elided), as captured from 2.19.14 and 2.21.5."""
    boot_params = {"MinOSVersion": None, "MinPSVersion": None, "TempPath": "%TEMP%"}
    complex_args = {"gather_subset": ["vms"], "_ansible_check_mode": True, "_ansible_no_log": False,
                    "_ansible_debug": False, "_ansible_diff": True, "_ansible_verbosity": 2,
                    "_ansible_version": "2.19.14", "_ansible_module_name": "hyperv.backup.host_facts",
                    "_ansible_syslog_facility": "LOG_USER", "_ansible_selinux_special_fs": ["fuse", "nfs"],
                    "_ansible_socket": None, "_ansible_shell_executable": "/bin/sh",
                    "_ansible_keep_remote_files": False, "_ansible_tmpdir": None, "_ansible_remote_tmp": "%TEMP%",
                    "_ansible_ignore_unknown_opts": False, "_ansible_target_log_info": None,
                    "_ansible_tracebacks_for": []}
    if version == "2.21":
        boot_params["PwshPath"] = "powershell"
        complex_args["_ansible_inject_invocation"] = False
        complex_args["_ansible_version"] = "2.21.5"
    complex_args.update(args or {})
    bootstrap = {"name": "exec_wrapper", "script": "# (c) 2025 Ansible Project\n...", "params": boot_params}
    manifest = {
        "scripts": {"module_wrapper.ps1": {"path": "module_wrapper.ps1", "script": "IyAo"},
                    SCRIPT: {"path": "host_facts.ps1", "script": "IyFw"},
                    "Ansible.Basic.cs": {"path": "Ansible.Basic.cs", "script": "dXNp"}},
        "actions": list(actions_before) + [{
            "name": "module_wrapper.ps1",
            "params": {"Script": SCRIPT, "Environment": {},
                       "Variables": [{"Name": "complex_args", "Value": complex_args, "Scope": "Global"}],
                       "CSharpModules": ["Ansible.Basic.cs"], "PowerShellModules": [], "ForModule": True},
            "secure_params": {}}],
        "signed_hashlist": [],
    }
    return (json.dumps(bootstrap) + "\n").encode() + b"\0\0\0\0" + ("\n" + json.dumps(manifest)).encode()


@pytest.mark.parametrize("version", ["2.19", "2.21"])
def test_decode_real_shape(version):
    request = payload.decode(real_shaped(version))
    assert request.script == SCRIPT
    assert request.args["gather_subset"] == ["vms"]
    assert request.check_mode is True and request.diff is True
    assert not request.become and not request.async_mode
    assert ("PwshPath" in request.bootstrap_params) == (version == "2.21")


def test_become_and_async_are_recognised():
    become = [{"name": "become_wrapper.ps1", "params": {"BecomeUser": "LAB\\admin"},
               "secure_params": {"BecomePassword": "x"}}]
    request = payload.decode(real_shaped(actions_before=become))
    assert request.become and request.become_user == "LAB\\admin" and request.wrappers == ["become_wrapper.ps1"]
    run_async = [{"name": "async_wrapper.ps1", "params": {"AsyncJid": "j42", "StartupTimeout": 5}},
                 {"name": "async_watchdog.ps1", "params": {"Timeout": 30}}]
    request = payload.decode(real_shaped(actions_before=run_async))
    assert request.async_mode and request.async_jid == "j42"


def test_values_are_data():
    evil = "x'; Remove-Item C:\\ -Recurse; '"
    request = payload.decode(real_shaped(args={"name": evil}))
    assert request.args["name"] == evil


def test_encode_round_trip():
    data = payload.encode(SCRIPT, {"acl_paths": ["C:\\x"]}, become_user="u", pwsh_path="pwsh")
    request = payload.decode(data)
    assert request.script == SCRIPT and request.args["acl_paths"] == ["C:\\x"]
    assert request.args["_ansible_module_name"] == "hyperv.backup.host_facts"
    assert request.become_user == "u" and request.bootstrap_params["PwshPath"] == "pwsh"
    assert payload.decode(data.decode()).script == SCRIPT  # str input is accepted too


def test_fqcn():
    assert payload.fqcn(SCRIPT) == "hyperv.backup.host_facts"
    assert payload.fqcn("other.ps1") == "other.ps1"


@pytest.mark.parametrize("data, message", [
    (b"", "stdin is empty"),
    (b"Write-Host hi", "no exec wrapper payload"),
    (b"{not json}\n\0\0\0\0\n{}", "not JSON"),
    (b'{"name": "other"}\n\0\0\0\0\n{}', "names 'other'"),
    (b'{"name": "exec_wrapper"}\n\0\0\0\0\n{"actions": []}', "no actions"),
    (b'{"name": "exec_wrapper"}\n\0\0\0\0\n{"actions": [{"name": "winrm_put_file.ps1"}]}',
     "runs no module (actions: winrm_put_file.ps1)"),
    (b'{"name": "exec_wrapper"}\n\0\0\0\0\n{"actions": [{"name": "module_wrapper.ps1", "params": {}}]}',
     "no params.Script"),
    (b'{"name": "exec_wrapper"}\n\0\0\0\0\n{"actions": [{"name": "module_wrapper.ps1", "params": '
     b'{"Script": "a.ps1", "Variables": [{"Name": "complex_args", "Value": [1]}]}}]}', "not an object"),
])
def test_not_a_module_payload(data, message):
    with pytest.raises(payload.PayloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        payload.decode(data)
