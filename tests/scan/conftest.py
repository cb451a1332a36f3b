import pytest

from crscan.vulndb import FeedDB
from tests.vulndb.support import shared_feed_db


@pytest.fixture(scope="session")
def feed_db(tmp_path_factory, shared_data):
    """The feed DB built by `crscan db update` from the whole shared mirror."""
    with FeedDB.open(shared_feed_db(tmp_path_factory, shared_data)) as db:
        yield db
