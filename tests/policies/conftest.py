from tests.jobs.conftest import feed_db_path, store  # noqa: F401 - the same fixtures as the jobs tests
