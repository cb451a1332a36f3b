"""Distro detection from real release files (texts as shipped by each distribution)."""

from __future__ import annotations

import pytest

from crscan.catalog.distro import detect_distro, parse_os_release
from crscan.model import Distro
from tests.catalog.helpers import file

DEBIAN_12 = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"""
# Debian 9's os-release had no VERSION_CODENAME; testing/sid have no VERSION_ID.
DEBIAN_9 = 'PRETTY_NAME="Debian GNU/Linux 9 (stretch)"\nNAME="Debian GNU/Linux"\nVERSION_ID="9"\nID=debian\n'
DEBIAN_SID = 'PRETTY_NAME="Debian GNU/Linux trixie/sid"\nNAME="Debian GNU/Linux"\nID=debian\n'
ALPINE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME="Alpine Linux v3.18"\n'
UBUNTU = ('PRETTY_NAME="Ubuntu 22.04.3 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION="22.04.3 LTS (Jammy Jellyfish)"\n'
          "VERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n")
ROCKY = 'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n' \
        'PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n'


def files(**contents):
    return {path: file(path, text) for path, text in contents.items()}


@pytest.mark.parametrize("tree,expected", [
    ({"/etc/os-release": DEBIAN_12}, Distro("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)")),
    ({"/usr/lib/os-release": DEBIAN_12}, Distro("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)")),
    ({"/etc/os-release": DEBIAN_9, "/etc/debian_version": "9.13\n"},
     Distro("debian", "9", "stretch", "Debian GNU/Linux 9 (stretch)")),
    ({"/etc/os-release": DEBIAN_9}, Distro("debian", "9", "stretch", "Debian GNU/Linux 9 (stretch)")),
    ({"/etc/os-release": DEBIAN_SID, "/etc/debian_version": "trixie/sid\n"},
     Distro("debian", "", "trixie", "Debian GNU/Linux trixie/sid")),
    ({"/etc/debian_version": "11.9\n"}, Distro("debian", "11", "bullseye", "Debian GNU/Linux 11 (bullseye)")),
    ({"/etc/debian_version": "10.13\n"}, Distro("debian", "10", "buster", "Debian GNU/Linux 10 (buster)")),
    ({"/etc/os-release": ALPINE, "/etc/alpine-release": "3.18.4\n"}, Distro("alpine", "3.18.4", "", "Alpine Linux v3.18")),
    ({"/etc/alpine-release": "3.12.0\n"}, Distro("alpine", "3.12.0", "", "Alpine Linux v3.12.0")),
    ({"/etc/os-release": UBUNTU, "/etc/debian_version": "bookworm/sid\n"},
     Distro("ubuntu", "22.04", "jammy", "Ubuntu 22.04.3 LTS")),
    ({"/etc/os-release": ROCKY}, Distro("rocky", "9.3", "", "Rocky Linux 9.3 (Blue Onyx)")),
    ({"/etc/redhat-release": "CentOS Linux release 7.9.2009 (Core)\n"},
     Distro("centos", "7.9.2009", "Core", "CentOS Linux release 7.9.2009 (Core)")),
    ({"/etc/redhat-release": "Red Hat Enterprise Linux release 8.9 (Ootpa)\n"},
     Distro("rhel", "8.9", "Ootpa", "Red Hat Enterprise Linux release 8.9 (Ootpa)")),
])
def test_detect(tree, expected):
    assert detect_distro(files(**{k: v for k, v in tree.items()})) == expected


def test_etc_os_release_wins_over_usr_lib():
    tree = files(**{"/etc/os-release": ALPINE, "/usr/lib/os-release": DEBIAN_12})
    assert detect_distro(tree).id == "alpine"


@pytest.mark.parametrize("junk,expected", [
    (b"", None), (b"\x00\xff\xfe", None), (b"no equals sign\n", None),
    (b'ID="unterminated\n', Distro("unterminated")),  # shell quoting broken: the value is still usable
])
def test_no_or_junk_release_files(junk, expected):
    assert detect_distro({}) is None
    assert detect_distro({"/etc/os-release": file("/etc/os-release", junk)}) == expected


def test_os_release_quoting():
    fields = parse_os_release(b"# comment\nNAME='Single Quoted'\nX=\"a \\\"b\\\"\"\nEMPTY=\n")
    assert fields == {"NAME": "Single Quoted", "X": 'a "b"', "EMPTY": ""}
