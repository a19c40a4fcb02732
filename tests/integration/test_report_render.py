"""The readiness report of the demo cluster, from facts gathered by ansible against hvsim, rendered in a real
headless browser (Debian's chromium; ``make browser`` installs it) and parsed as JUnit.

A run that aligns VMs with their CSV owners is played by moving them in the model between two gathers, so the
report has a placement before and after. One demo VM is renamed to a name that would be markup if it were
not escaped. The screenshots are kept under tests/output/ (git-ignored) for people to look at.
"""
import copy
import json
import os
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from junitparser import JUnitXml
from PIL import Image

from ansible_collections.hyperv.backup.plugins.plugin_utils import _report
from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view
from ansible_collections.hyperv.backup.plugins.plugin_utils._readiness import evaluate
from hvsim.cli import REPO_ROOT
from hvsim.model import load_file
from hvsim.testing import Lab, host_results, model_path, run_ansible
from tests.htmldom import Dom, figure

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUTPUT = os.path.join(REPO_ROOT, "tests", "output")
HOSTILE = "<img src=x onerror=alert(1)>"
RENAMED = "WEB02"  # Standard checkpoints and off its CSV owner in the demo model: it shows in findings and placement
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
POLICY = {"vss_accounts": ["LAB\\svc-veeam"]}

def chromium(*args, tmp_path):
    if not CHROMIUM:
        pytest.fail("chromium is not installed: run `make browser` (make test does)")
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
           f"--user-data-dir={profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def gather(lab):
    """host_facts on every node, then the ACLs of the VHD Set folders from one node: the demo playbook's reads."""
    rc, out = run_ansible(lab, "hv", "-m", "hyperv.backup.host_facts")
    assert rc == 0, out
    facts = list(host_results(out).values())
    folders = [folder["Path"] for folder in cluster_view(facts)["vhd_set_folders"]]
    args = json.dumps({"gather_subset": ["min"], "acl_paths": folders})
    rc, out = run_ansible(lab, "HV01", "-m", "hyperv.backup.host_facts", "-a", args)
    assert rc == 0, out
    return cluster_view(facts + list(host_results(out).values()))


def align_with_owners(lab, view):
    """What a run aligning VMs with their CSV owners leaves: each VM off its owner now runs on the owner."""
    moves = {vm["Id"].lower(): vm["SharedVolumeOwner"] for vm in view["vms"] if vm["OnSharedVolumeOwner"] is False}
    model = lab.read_model()
    for vm in model["vms"]:
        if vm["id"].lower() in moves:
            vm["node"] = moves[vm["id"].lower()]
    lab.write_model(model)
    return moves


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    model = copy.deepcopy(load_file(model_path("demo")))
    [renamed] = [vm for vm in model["vms"] if vm["name"] == RENAMED]
    renamed["name"] = HOSTILE
    lab = Lab.start(model, tmp_path_factory.mktemp("report-lab"))
    try:
        before = gather(lab)
        moves = align_with_owners(lab, before)
        after = gather(lab)
    finally:
        lab.stop()
    result = evaluate(after, POLICY, NOW)
    report = _report.build_report(after, result["findings"], result["checked"], policy=POLICY,
                                  before_view=before, generated=NOW)
    os.makedirs(OUTPUT, exist_ok=True)
    return {"before": before, "after": after, "moves": moves, "report": report}


def colors_near(image, rgb, tolerance=24):
    """How many pixels are within ``tolerance`` of ``rgb`` on every channel."""
    count = 0
    for pixel, n in ((p, n) for n, p in image.getcolors(maxcolors=1 << 24)):
        if all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], rgb)):
            count += n
    return count


def test_the_demo_run_moved_vms_and_the_report_knows(demo):
    report = demo["report"]
    before, after = report["placement"]["before"], report["placement"]["after"]
    assert len(demo["moves"]) == 8
    assert sum(1 for vm in before["vms"] if vm["on_owner"] is False) == 8
    assert sum(1 for vm in after["vms"] if vm["on_owner"] is False) == 0
    assert not [f for f in report["findings"] if f["check"] == "csv_placement"]
    assert HOSTILE in [vm["name"] for vm in after["vms"]]


def test_html_renders_in_chromium_with_findings_placement_and_no_injected_markup(demo, tmp_path):
    report = demo["report"]
    page = os.path.join(OUTPUT, "report.html")
    with open(page, "w", encoding="utf-8") as fh:
        fh.write(_report.to_html(report))
    dump = chromium("--dump-dom", f"file://{page}", tmp_path=tmp_path)
    dom = Dom(dump)

    # the hostile name is text, not an element, wherever it appears
    assert dom.find("img") == [] and dom.find("script") == []
    assert HOSTILE in dom.text
    assert "onerror" not in {key for _, attrs in dom.elements for key in attrs}
    # every finding is a row, the errors first
    rows = dom.find("tr", "finding")
    assert len(rows) == len(report["findings"]) == report["summary"]["total"]
    assert [r["data-check"] for r in rows][0] == report["findings"][0]["check"]
    # LEGACY-ERP's 10103 events of the last three nights, read by host_facts, are its finding's evidence
    assert '<span class="seen">seen 3 times</span><span class="when">2026-11-17 02:03 UTC to 2026-11-19 02:03 UTC</span>' in dump
    assert "cannot be hot backed up since it has no SCSI controllers attached" in dom.text
    # the placement: before and after, one mark per VM, the off-owner ones before, the moved ones after
    pictures = {moment: figure(dump, moment) for moment in ("before", "after")}
    assert "data-moment=\"now\"" not in dump
    vm_count = len(demo["after"]["vms"])
    for moment in ("before", "after"):
        marks = pictures[moment].find("circle", "vm")
        assert len(marks) == vm_count
        assert len(pictures[moment].find("rect", "owner")) == len(demo["after"]["cluster"]["SharedVolumes"])
    assert len(pictures["before"].find("circle", "off")) == 8
    assert len(pictures["after"].find("circle", "off")) == 0
    assert len(pictures["after"].find("circle", "moved")) == 8
    assert len(pictures["before"].find("circle", "moved")) == 0
    assert pictures["after"].find("circle", "stopped")  # OLD-CRM01 is off


def test_screenshots_are_the_page_not_a_blank(demo, tmp_path):
    page = os.path.join(OUTPUT, "report.html")
    with open(page, "w", encoding="utf-8") as fh:
        fh.write(_report.to_html(demo["report"]))
    top, whole = os.path.join(OUTPUT, "report.png"), os.path.join(OUTPUT, "report-whole.png")
    for target in (top, whole):
        if os.path.exists(target):
            os.remove(target)
    chromium(f"--screenshot={top}", "--window-size=1280,2000", f"file://{page}", tmp_path=tmp_path)
    chromium(f"--screenshot={whole}", "--window-size=1280,8000", f"file://{page}", tmp_path=tmp_path)

    with Image.open(top) as image:
        assert image.size == (1280, 2000)
        rgb = image.convert("RGB")
        assert len(rgb.getcolors(maxcolors=1 << 24)) > 100  # text, badges, cards: not a blank page
        assert colors_near(rgb, (0xC0, 0x39, 0x2B)) > 200  # the error card and badges
        assert colors_near(rgb, (0xD6, 0x89, 0x10)) > 100  # the warning card
        assert colors_near(rgb, (0x22, 0x99, 0x54)) > 50  # the passed card
    with Image.open(whole) as image:
        rgb = image.convert("RGB")
        bottom = rgb.crop((0, 7800, 1280, 8000))
        assert bottom.getcolors() == [(1280 * 200, (255, 255, 255))]  # the whole page is in the picture
        # the placement picture: 2 x 30 marks, 8 off their owner before, the owner cells tinted
        assert colors_near(rgb, (0x27, 0xAE, 0x60), 12) > 2500  # VMs on their CSV owner
        assert colors_near(rgb, (0xE4, 0x57, 0x2E), 12) > 600  # VMs off it
        assert colors_near(rgb, (0xE3, 0xEE, 0xFB), 4) > 20000  # the owner cells


def test_junit_parses_and_counts_match_the_report(demo):
    report = demo["report"]
    path = os.path.join(OUTPUT, "report.junit.xml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(_report.to_junit(report))
    xml = JUnitXml.fromfile(path)
    suites = list(xml)
    assert [s.name for s in suites] == sorted(report["checked"])
    assert sum(s.tests for s in suites) == report["summary"]["checks"]
    failing = {(f["check"], f["object"]["name"].casefold()) for f in report["findings"] if f["severity"] == "error"}
    assert sum(s.failures for s in suites) == len(failing)
    assert sum(s.errors for s in suites) == 0
    failed_cases = {(case.classname, case.name.casefold()) for s in suites for case in s
                    if any(type(r).__name__ == "Failure" for r in case.result)}
    assert failed_cases == failing
    assert ("checkpoint_type", HOSTILE.casefold()) in failed_cases


def test_markdown_and_json_of_the_demo(demo):
    report = demo["report"]
    markdown, text = _report.to_markdown(report), _report.to_json(report)
    for name, content in (("report.md", markdown), ("report.json", text)):
        with open(os.path.join(OUTPUT, name), "w", encoding="utf-8") as fh:
            fh.write(content)
    assert json.loads(text) == report
    assert HOSTILE not in markdown and "&lt;img src=x onerror=alert(1)&gt;" in markdown
    assert "Before the run, VMs off their CSV owner: 8 of 30." in markdown
    assert "After the run, VMs off their CSV owner: 0 of 30." in markdown
