import pytest

from tests.vulndb.support import shared_feed_db


@pytest.fixture(scope="session")
def feed_db_path(tmp_path_factory, shared_data):
    return shared_feed_db(tmp_path_factory, shared_data)
