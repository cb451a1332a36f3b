import subprocess
import sys

import pytest
import sqlalchemy as sa


@pytest.mark.smoke
def test_cli_entry_point_shows_help():
    out = subprocess.run([sys.executable, "-m", "crscan.cli.main", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "crscan" in out.stdout


def test_database_url_backends_are_usable(database_url):
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select 1")).scalar() == 1
    engine.dispose()
