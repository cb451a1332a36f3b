"""PHP: Composer 2 and Composer 1 installed.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from crscan.catalog.catalogers import PHP_COMPOSER
from crscan.model import Ecosystem
from tests.catalog.helpers import file, image_files

TESTDATA = Path(__file__).parent / "testdata"


def test_both_formats():
    result = PHP_COMPOSER.catalog(image_files(TESTDATA))
    assert result.warnings == ()
    app = {(p.name, p.version) for p in result.packages if p.path.startswith("/var/www/app/")}
    legacy = {(p.name, p.version) for p in result.packages if p.path.startswith("/srv/legacy/")}
    # dev packages are listed because they are in vendor/ (installed with --dev)
    assert app == {("doctrine/deprecations", "v1.1.1"), ("monolog/monolog", "3.4.0"),
                   ("myclabs/deep-copy", "1.11.1"), ("nikic/php-parser", "v4.17.1")}
    assert legacy == {("doctrine/deprecations", "v1.1.1"), ("monolog/monolog", "3.4.0")}
    monolog = next(p for p in result.packages if p.name == "monolog/monolog")
    assert monolog.purl == "pkg:composer/monolog/monolog@3.4.0" and monolog.ecosystem is Ecosystem.COMPOSER


@pytest.mark.parametrize("data,problem", [(b"{", "not valid JSON"), (b'{"packages": 3}', "no package list")])
def test_broken_installed_json_is_a_warning(data, problem):
    path = "/app/vendor/composer/installed.json"
    result = PHP_COMPOSER.catalog({path: file(path, data)})
    assert result.packages == () and result.warnings[0].startswith(path) and problem in result.warnings[0]
