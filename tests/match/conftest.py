import bz2
import shutil
import zipfile
from pathlib import Path

import pytest

from crscan.vulndb import FeedDB, update
from tests.vulndb.support import shared_feed_db

TESTDATA = Path(__file__).parent / "testdata"


@pytest.fixture(scope="session")
def feed_db_path(tmp_path_factory, shared_data):
    return shared_feed_db(tmp_path_factory, shared_data)


@pytest.fixture(scope="session")
def shared_db(feed_db_path):
    with FeedDB.open(feed_db_path) as db:
        yield db


@pytest.fixture(scope="session")
def fixture_db(tmp_path_factory):
    """The DB built from testdata/: the upstream-format fixtures, OSV records zipped as OSV ships them."""
    mirror = tmp_path_factory.mktemp("fixture-mirror")
    shutil.copytree(TESTDATA / "feeds", mirror, dirs_exist_ok=True)
    for ecosystem in sorted((TESTDATA / "osv").iterdir()):
        target = mirror / "osv" / ecosystem.name / "all.zip"
        target.parent.mkdir(parents=True)
        with zipfile.ZipFile(target, "w") as archive:
            for record in sorted(ecosystem.glob("*.json")):
                archive.write(record, record.name)
    # Oracle ships its OVAL bzip2-compressed; kept readable here and compressed as upstream serves it.
    oracle = mirror / "oracle" / "com.oracle.elsa-all.xml.bz2"
    oracle.parent.mkdir()
    oracle.write_bytes(bz2.compress((TESTDATA / "oracle" / "com.oracle.elsa-all.xml").read_bytes()))
    path = mirror.parent / "fixture-feeds.db"
    update(path, mirror)
    with FeedDB.open(path) as db:
        yield db
