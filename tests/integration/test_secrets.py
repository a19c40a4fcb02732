"""Secrets: the connection password (``ansible_password``) and a become password never appear in task results,
in ``-vvv`` output, in the JSON callback's output, in ansible's log file, in hvsim's journal, or in the reports the
role writes. The lab's credentials are a distinctive password (hvsim checks it on every request); the whole
baseline runs once, converging, with ``-vvv``, the JSON callback and the log file, and every byte written is searched for the password, its parts, and the Basic authorization header built from it.
"""
import base64
import json
import os

import pytest

from hvsim.model import load_file
from hvsim.testing import ansible_env, model_path, run_ansible
from tests.integration import reliability as R

pytestmark = pytest.mark.integration

PASSWORD = "Zebra-7f9q!Quokka$(pw);`x`-S3cr3t"
BECOME_PASSWORD = "Become-Marmoset-51x9-S3cr3t"


def needles(user):
    """What must not appear: the passwords, their distinctive parts, and the Basic header of the credentials."""
    basic = base64.b64encode(f"{user}:{PASSWORD}".encode("utf-8")).decode("ascii")
    return [PASSWORD, BECOME_PASSWORD, "Zebra-7f9q", "Quokka", "Marmoset-51x9", basic, basic[:16]]


def search(text, where, user):
    for needle in needles(user):
        assert needle not in text, f"{where} holds {needle!r}"


def test_no_password_appears_in_results_logs_journal_or_reports(tmp_path):
    data = load_file(model_path("demo"))
    data["credentials"]["password"] = PASSWORD
    user = data["credentials"]["username"]
    reports = tmp_path / "reports"
    log = tmp_path / "ansible.log"
    variables = {"hyperv_backup_readiness_vss_accounts": ["LAB\\svc-veeam"],
                 "hyperv_backup_readiness_config_store_path": "C:\\ClusterStorage\\Volume1\\Hyper-V\\Store",
                 "hyperv_backup_readiness_report_dir": str(reports),
                 "ansible_become_method": "runas", "ansible_become_user": "LAB\\hv-admins",
                 "ansible_become_password": BECOME_PASSWORD}
    plays = [R.play([{"name": "baseline", "ansible.builtin.include_role": {"name": "hyperv.backup.backup_readiness"}}],
                    vars=R.unsafe(variables))]
    with R.LabRun(data, tmp_path) as lab:
        playbook = R.write_playbook(tmp_path, plays)
        # one converging run: the JSON callback writes every result, -vvv adds the connection's and the modules'
        # messages around it, and ansible writes its log file
        callback = {key: value for key, value in ansible_env(callback_base=lab.workdir).items()
                    if key in ("ANSIBLE_CALLBACK_PLUGINS", "ANSIBLE_STDOUT_CALLBACK", "ANSIBLE_LOAD_CALLBACK_PLUGINS")}
        rc, text = run_ansible(lab, "ansible-playbook", playbook, "-vvv", json_output=False,
                               env={**callback, "ANSIBLE_LOG_PATH": str(log)})
        assert rc == 0, text[-3000:]
        assert "ESTABLISH WINRM CONNECTION" in text   # the output is verbose
        search(text, "the -vvv output", user)
        document, _ = json.JSONDecoder().raw_decode(text, text.index("\n{") + 1)
        assert any(result.get("changed") for each in document["plays"] for task in each["tasks"]
                   for result in task["hosts"].values()), "the run changed nothing: it was not the converging run"
        search(json.dumps(document), "the JSON callback's document", user)
        assert lab.journal, "hvsim's journal is empty"
        search(json.dumps(lab.journal, ensure_ascii=False), "hvsim's journal", user)
    assert log.exists() and log.stat().st_size > 0
    search(log.read_text(encoding="utf-8", errors="replace"), "ansible's log file", user)
    written = [os.path.join(root, name) for root, _, names in os.walk(reports) for name in names]
    assert {os.path.splitext(name)[1] for name in written} >= {".html", ".md", ".json", ".xml"}, written
    for path in written:
        with open(path, encoding="utf-8", errors="replace") as fh:
            search(fh.read(), path, user)
