"""Java: real jars from Debian's libslf4j-java 1.7.32, nested into WAR/EAR archives here; hostile zips."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from crscan.catalog.catalogers import JAVA_ARCHIVE
from crscan.catalog.java.parse_archive import MAX_METADATA, parse_archive
from crscan.model import Ecosystem
from tests.catalog.helpers import TESTDATA_LAYER, file, image_files

TESTDATA = Path(__file__).parent / "testdata"
LIB = TESTDATA / "opt/lib"


def zip_bytes(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def without_maven_metadata(jar: bytes) -> bytes:
    """An Ant/Gradle-style jar: the same classes and manifest, no META-INF/maven/."""
    source = zipfile.ZipFile(io.BytesIO(jar))
    return zip_bytes({m.filename: source.read(m) for m in source.infolist()
                      if not m.filename.startswith("META-INF/maven/")})


@pytest.fixture(scope="module")
def war() -> bytes:
    return zip_bytes({
        "WEB-INF/web.xml": b"<web-app/>",
        "WEB-INF/lib/slf4j-simple-1.7.32.jar": (LIB / "slf4j-simple.jar").read_bytes(),
        "WEB-INF/lib/jul-to-slf4j-1.7.32.jar": (LIB / "jul-to-slf4j.jar").read_bytes(),
        "WEB-INF/lib/slf4j-nop-1.7.32.jar": without_maven_metadata((LIB / "slf4j-nop.jar").read_bytes()),
    })


def coordinates(packages):
    return {(p.name, p.version, p.path) for p in packages}


def test_top_level_jars_from_pom_properties():
    files = image_files(TESTDATA)
    result = JAVA_ARCHIVE.catalog(files)
    assert result.warnings == ()
    assert ("org.slf4j:slf4j-api", "1.7.32", "/usr/share/java/slf4j-api.jar") in coordinates(result.packages)
    api = next(p for p in result.packages if p.name == "org.slf4j:slf4j-api")
    assert api.purl == "pkg:maven/org.slf4j/slf4j-api@1.7.32"
    assert api.ecosystem is Ecosystem.MAVEN and api.layer == TESTDATA_LAYER


def test_nested_jars_in_a_war(war):
    result = JAVA_ARCHIVE.catalog({"/srv/shop.war": file("/srv/shop.war", war)})
    assert result.warnings == ()
    assert coordinates(result.packages) == {
        ("org.slf4j:slf4j-simple", "1.7.32", "/srv/shop.war/WEB-INF/lib/slf4j-simple-1.7.32.jar"),
        ("org.slf4j:jul-to-slf4j", "1.7.32", "/srv/shop.war/WEB-INF/lib/jul-to-slf4j-1.7.32.jar"),
        # no pom.properties: artifact from the file name, version from the manifest, no group known
        ("slf4j-nop", "1.7.32", "/srv/shop.war/WEB-INF/lib/slf4j-nop-1.7.32.jar"),
    }


def test_nesting_is_bounded(war):
    ear = zip_bytes({"shop.war": war})
    deeper = zip_bytes({"lib/shop.ear": ear})
    warnings: list[str] = []
    assert len(parse_archive(ear, "/srv/app.ear", warnings)) == 3 and warnings == []
    packages = parse_archive(deeper, "/srv/outer.ear", warnings)
    assert packages == []
    assert warnings == [f"/srv/outer.ear/lib/shop.ear/shop.war/WEB-INF/lib/{name}: archive nested deeper than "
                        "3 levels not read" for name in ("slf4j-simple-1.7.32.jar", "jul-to-slf4j-1.7.32.jar",
                                                          "slf4j-nop-1.7.32.jar")]


def test_zip_bomb_manifest_is_refused_cheaply():
    bomb = zip_bytes({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n" + b"\n" * (20 * 1024 * 1024)})
    assert len(bomb) < 40_000
    result = JAVA_ARCHIVE.catalog({"/app/bomb.jar": file("/app/bomb.jar", bomb)})
    assert result.packages == ()
    assert result.warnings == (f"/app/bomb.jar/META-INF/MANIFEST.MF: declared size {20 * 1024 * 1024 + 22} "
                               f"exceeds the {MAX_METADATA}-byte limit",)


def test_zip_bomb_lying_about_its_size_is_bounded():
    data = bytearray(zip_bytes({"META-INF/maven/g/a/pom.properties": b"groupId=g\n" + b"#" * (10 * 1024 * 1024)}))
    # forge the declared sizes (local header at 22, central directory entry at +24) down to 10 bytes
    central = data.rindex(b"PK\x01\x02")
    data[22:26] = data[central + 24:central + 28] = (10).to_bytes(4, "little")
    result = JAVA_ARCHIVE.catalog({"/app/liar.jar": file("/app/liar.jar", bytes(data))})
    assert result.packages == ()
    assert len(result.warnings) == 1 and result.warnings[0].startswith("/app/liar.jar/META-INF/maven/g/a/pom.properties")


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 truncated", b"\x7fELF not a zip"])
def test_not_a_zip_is_a_warning(data):
    result = JAVA_ARCHIVE.catalog({"/app/x.jar": file("/app/x.jar", data)})
    assert result.packages == () and result.warnings[0].startswith("/app/x.jar: not a readable zip archive")


def test_broken_nested_jar_keeps_its_siblings(war):
    archive = zip_bytes({"WEB-INF/lib/broken-1.0.jar": b"garbage",
                         "WEB-INF/lib/jul-to-slf4j-1.7.32.jar": (LIB / "jul-to-slf4j.jar").read_bytes()})
    result = JAVA_ARCHIVE.catalog({"/srv/a.war": file("/srv/a.war", archive)})
    assert [p.name for p in result.packages] == ["org.slf4j:jul-to-slf4j"]
    assert result.warnings == ("/srv/a.war/WEB-INF/lib/broken-1.0.jar: not a readable zip archive: "
                               "File is not a zip file",)
