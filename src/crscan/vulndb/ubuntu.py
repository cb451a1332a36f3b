"""The Ubuntu CVE tracker (Canonical's `ubuntu-cve-tracker`): one file per CVE under `active/` and `retired/`,
stating per release and source package whether and where the vulnerability is fixed. OSV's Ubuntu records come
from the same tracker but lose the reason a fix is missing; these files keep it:

    Candidate: CVE-2024-0727
    Priority: low
    Patches_openssl:
    jammy_openssl: released (3.0.2-0ubuntu1.14)
    trusty_openssl: ignored (end of standard support)
    Patches_edk2:
    jammy_edk2: needed

Statuses in Trivy's words (docs/supported-os.md): released -> fixed (at its version); needed, active, pending
(a fix prepared but not published) -> affected; needs-triage -> under_investigation; deferred -> fix_deferred;
ignored -> end_of_life when its note says the release's support ended, else will_not_fix; not-affected and DNE
give no row. `Priority_<package>` overrides the CVE's `Priority` for that package.

A mirror holds the tracker's checkout (or its `active/` and `retired/` folders) as `ubuntu/cve-tracker`;
upstream is Launchpad's snapshot of the repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from crscan.model import Severity
from crscan.vulndb import namespaces, severity
from crscan.vulndb.interface import Advisory, Tally, Updater
from crscan.vulndb.records import VendorStatus
from crscan.vulndb.tree import archive_files, tree_files

UPSTREAM = "https://git.launchpad.net/ubuntu-cve-tracker/snapshot/ubuntu-cve-tracker-master.tar.gz"
FEED = "ubuntu"
# The tracker's release codenames -> VERSION_ID, the key images and OSV name releases by.
RELEASES = {
    "trusty": "14.04", "xenial": "16.04", "yakkety": "16.10", "zesty": "17.04", "artful": "17.10",
    "bionic": "18.04", "cosmic": "18.10", "disco": "19.04", "eoan": "19.10", "focal": "20.04", "groovy": "20.10",
    "hirsute": "21.04", "impish": "21.10", "jammy": "22.04", "kinetic": "22.10", "lunar": "23.04",
    "mantic": "23.10", "noble": "24.04", "oracular": "24.10", "plucky": "25.04", "questing": "25.10",
}
STATUSES = {
    "released": "fixed",
    "needed": "affected",
    "active": "affected",
    "pending": "affected",
    "needs-triage": "under_investigation",
    "deferred": "fix_deferred",
    "ignored": "will_not_fix",  # end_of_life when the note says so
}
NOT_AFFECTED = ("not-affected", "DNE")
_END_OF_SUPPORT = re.compile(r"end[- ]of[- ](standard[- ])?(life|support)|out of (standard )?support", re.IGNORECASE)
_STATE = re.compile(r"^([a-z]+)_(\S+):\s*(\S+)(?:\s+\((.*)\))?\s*$")
_FIELD = re.compile(r"^([A-Za-z][\w-]*):\s*(.*)$")
_CVE_FILE = re.compile(r"(^|/)(active|retired)/CVE-\d{4}-\d+$")


class UbuntuTrackerUpdater(Updater):
    feed = FEED
    name = "ubuntu/cve-tracker"
    upstream_url = UPSTREAM

    @property
    def file_name(self) -> str:
        return "ubuntu/cve-tracker.tar.gz"

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        for _, data in archive_files(reader, is_cve_file, self.name):
            yield from parse_cve_file(data.decode("utf-8", "replace"), tally)

    def read(self, path: Path, tally: Tally) -> Iterator[Advisory]:
        for _, data in tree_files(path, is_cve_file, self.name):
            yield from parse_cve_file(data.decode("utf-8", "replace"), tally)


def is_cve_file(path: str) -> bool:
    return bool(_CVE_FILE.search(path))


def parse_cve_file(text: str, tally: Tally) -> Iterator[Advisory]:
    """One row per (release, source package) the CVE affects or was fixed in; a record is one status line of a
    release crscan knows."""
    cve, priority = "", ""
    package_priority: dict[str, str] = {}
    states: list[tuple[str, str, str, str]] = []  # (release, package, status, note)
    for line in text.splitlines():
        if not line or line[0].isspace() or line.startswith("#"):
            continue  # continuation lines of multi-line fields, comments
        if found := _STATE.match(line):
            release, package, status, note = found.group(1), found.group(2), found.group(3), found.group(4) or ""
            if release in RELEASES:
                states.append((release, package, status, note))
            continue
        if found := _FIELD.match(line):
            key, value = found.group(1), found.group(2).strip()
            if key == "Candidate":
                cve = value
            elif key == "Priority":
                priority = value
            elif key.startswith("Priority_"):
                package_priority[key.removeprefix("Priority_")] = value
    for release, package, status, note in states:
        tally.records += 1
        if status in NOT_AFFECTED:
            continue
        stated = STATUSES.get(status)
        fixed = note.strip() if stated == "fixed" else ""
        if not cve or stated is None or (stated == "fixed" and (not fixed or " " in fixed)):
            tally.skipped += 1  # an unknown status, or a release without the version that fixed it
            continue
        if status == "ignored" and _END_OF_SUPPORT.search(note):
            stated = "end_of_life"
        word = package_priority.get(package, priority)
        level = severity.from_vendor("ubuntu", word)
        yield Advisory(FEED, namespaces.vendor_status(FEED, RELEASES[release]), package, cve,
                       VendorStatus(cve, stated, fixed, level, "ubuntu" if level is not Severity.UNDEFINED else "none"))
