from ansible_collections.hyperv.backup.plugins.plugin_utils._vss import parse_vss_writers

ENGLISH = """vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool
(C) Copyright 2001-2013 Microsoft Corp.

Writer name: 'Task Scheduler Writer'
   Writer Id: {d61d61c8-d73a-4eee-8cdd-f6f9786b7124}
   Writer Instance Id: {1bddd48e-5052-49db-9b07-b96f96727e6b}
   State: [1] Stable
   Last error: No error

Writer name: 'Microsoft Hyper-V VSS Writer'
   Writer Id: {66841CD4-6DED-4F4B-8F17-FD23F8DDC3DE}
   Writer Instance Id: {9a2b4c1e-32d4-4b53-8d3c-8b5a1f7d4a10}
   State: [5] Waiting for completion
   Last error: Retryable error
"""

GERMAN = """vssadmin 1.1 - Verwaltungsbefehlszeilenprogramm des Volumeschattenkopie-Dienstes
(C) Copyright 2001-2013 Microsoft Corp.

Verfassername: "Task Scheduler Writer"
Verfassername: 'Microsoft Hyper-V VSS Writer'
   Verfasserkennung: {66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}
   Verfasserinstanzkennung: {9a2b4c1e-32d4-4b53-8d3c-8b5a1f7d4a10}
   Status: [9] Fehler
   Letzter Fehler: Zeitüberschreitung
"""


def test_english_output():
    writers = parse_vss_writers(ENGLISH)
    assert [w["Name"] for w in writers] == ["Task Scheduler Writer", "Microsoft Hyper-V VSS Writer"]
    hyperv = writers[1]
    assert hyperv["Id"] == "{66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}"
    assert hyperv["State"] == 5
    assert hyperv["StateName"] == "WAITING_FOR_BACKUP_COMPLETE"
    assert hyperv["StateLabel"] == "Waiting for completion"
    assert hyperv["LastError"] == "Retryable error"
    assert writers[0]["State"] == 1


def test_localized_labels_use_the_bracketed_number():
    writers = parse_vss_writers(GERMAN)
    assert len(writers) == 1
    assert writers[0]["State"] == 9 and writers[0]["StateName"] == "FAILED_AT_FREEZE"
    assert writers[0]["LastError"] == "Zeitüberschreitung"


def test_empty_and_garbage():
    assert parse_vss_writers("") == []
    assert parse_vss_writers(None) == []
    assert parse_vss_writers("Error: access is denied.\n") == []
