"""The docs site (``make docs``): antsibull-docs renders every module, filter and role of the collection to RST, Sphinx
builds the HTML; a warning fails it (see gatekit.docs_site for the one exception, offline references to the Ansible
docsite)."""
import re

import pytest

from tests.sanity import gatekit

pytestmark = [pytest.mark.gate, pytest.mark.pinned_gate]

PAGES = {"module": "{}_module.html", "filter": "{}_filter.html", "role": "{}_role.html"}


def test_the_docs_site_builds_with_a_page_for_every_plugin_and_role(tmp_path):
    index, problems, log = gatekit.docs_site(tmp_path / "site")
    assert index is not None and not problems, "\n".join(problems) + "\n" + log
    html = index.parent
    home = index.read_text(encoding="utf-8")
    for kind, page in PAGES.items():
        for name in gatekit.documented(kind):
            target = html / page.format(name)
            assert target.is_file(), target
            assert f'href="{target.name}' in home, f"{target.name} is not linked from the index"
            assert f"hyperv.backup.{name}" in target.read_text(encoding="utf-8")


def test_a_broken_reference_fails_the_build(tmp_path):
    """A reference to a page the collection does not have is a problem, online or offline."""
    copy = gatekit.copy_checkout(tmp_path / "collections", names={"galaxy.yml", "meta", "plugins", "roles"})
    stub = copy / "plugins" / "modules" / "host_facts.py"
    text = stub.read_text(encoding="utf-8")
    text, count = re.subn(r"^description:\n", "description:\n  - See R(the role, ansible_collections.hyperv.backup."
                                              "no_such_role_role).\n", text, count=1, flags=re.MULTILINE)
    assert count == 1
    stub.write_text(text, encoding="utf-8")
    index, problems, log = gatekit.docs_site(tmp_path / "site", collections_path=tmp_path / "collections")
    assert [p for p in problems if "no_such_role_role" in p and "host_facts_module.rst" in p], log
