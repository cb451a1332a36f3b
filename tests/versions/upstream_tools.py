"""The real comparison tools, driven in batches: each function takes (a, b) pairs and returns what the
tool says for each, as -1/0/1. Tools come from the machine (Debian packages), never the network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

Pairs = Sequence[tuple[str, str]]

_DPKG_LOOP = r"""
while IFS="$(printf '\t')" read -r a b; do
  if dpkg --compare-versions "$a" lt "$b"; then echo -1
  elif dpkg --compare-versions "$a" eq "$b"; then echo 0
  else echo 1; fi
done
"""
# node-semver: Debian's node-semver package, else the copy npm ships (nodesource builds bundle npm).
NODE_SEMVER = next(
    (path for path in (Path("/usr/share/nodejs/semver"), Path("/usr/lib/node_modules/npm/node_modules/semver"))
     if path.is_dir()),
    Path("/usr/share/nodejs/semver"),
)
MAVEN_ARTIFACT_JAR = Path("/usr/share/java/maven-artifact-3.x.jar")
GO_VENDORED_SEMVER = Path("/usr/lib/go/src/cmd/vendor/golang.org/x/mod/semver/semver.go")

_GO_MAIN = """package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		pair := strings.SplitN(in.Text(), "\\t", 2)
		fmt.Println(Compare(pair[0], pair[1]))
	}
}
"""


def _run(argv: list[str], stdin: str) -> list[int]:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120, check=True)
    return [int(line) for line in done.stdout.split()]


def _tab_lines(pairs: Pairs) -> str:
    return "".join(f"{a}\t{b}\n" for a, b in pairs)


def dpkg(pairs: Pairs) -> list[int]:
    return _run(["sh", "-c", _DPKG_LOOP], _tab_lines(pairs))


def rpm(pairs: Pairs, workdir: Path) -> list[int]:
    """rpm's own rpm.vercmp (EVR comparison) from its embedded Lua, one rpm process per batch."""
    listing = workdir / "rpm-pairs.tsv"
    listing.write_text(_tab_lines(pairs))
    script = (
        "%{lua: for line in io.lines('" + str(listing) + "') do "
        "local a, b = line:match('^(.-)\\t(.*)$') io.write(rpm.vercmp(a, b), '\\n') end}"
    )
    return _run(["rpm", "--eval", script], "")


def node_semver(pairs: Pairs) -> list[int]:
    script = (
        f"const compare = require({json.dumps(str(NODE_SEMVER / 'functions' / 'compare'))});"
        "const pairs = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(pairs.map(([a, b]) => compare(a, b)).join('\\n'));"
    )
    return _run(["node", "-e", script], json.dumps(list(pairs)))


def build_go_semver(workdir: Path) -> Path:
    """golang.org/x/mod/semver as vendored in the Go toolchain, behind a stdin loop; built offline."""
    source = GO_VENDORED_SEMVER.read_text().replace("package semver", "package main", 1)
    (workdir / "semver.go").write_text(source)
    (workdir / "main.go").write_text(_GO_MAIN)
    (workdir / "go.mod").write_text("module vercmp\n\ngo 1.19\n")
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod"}
    subprocess.run(["go", "build", "-o", "vercmp", "."], cwd=workdir, env=env, check=True, timeout=300)
    return workdir / "vercmp"


def go_semver(binary: Path, pairs: Pairs) -> list[int]:
    return _run([str(binary)], _tab_lines(pairs))


def maven(ordered: Sequence[str]) -> list[int]:
    """ComparableVersion's main(): compares each version with the next one."""
    done = subprocess.run(
        ["java", "-cp", str(MAVEN_ARTIFACT_JAR), "org.apache.maven.artifact.versioning.ComparableVersion", *ordered],
        capture_output=True, text=True, timeout=120, check=True,
    )
    signs = {"<": -1, "==": 0, ">": 1}
    return [signs[line.split()[1]] for line in done.stdout.splitlines() if line.startswith("   ")]


def maven_pairs(pairs: Pairs) -> list[int]:
    """ComparableVersion on each pair, in one JVM: main() compares neighbours, so every other answer is a pair's."""
    return maven([text for pair in pairs for text in pair])[0::2]


COMPOSER_SEMVER = Path("/usr/share/php/Composer/Semver/autoload.php")  # Debian's php-composer-semver
_COMPOSER_SCRIPT = """<?php
require '%s';
use Composer\\Semver\\Comparator;
use Composer\\Semver\\VersionParser;
$parser = new VersionParser();
function normalized($parser, $version) {
    try {
        return $parser->normalize($version);
    } catch (UnexpectedValueException $e) {
        return null;
    }
}
foreach (json_decode(stream_get_contents(STDIN)) as [$a, $b]) {
    $a = normalized($parser, $a);
    $b = normalized($parser, $b);
    $order = ($a === null || $b === null) ? null
        : (Comparator::greaterThan($a, $b) ? 1 : (Comparator::lessThan($a, $b) ? -1 : 0));
    echo json_encode([$a, $b, $order]), "\\n";
}
"""


def rubygems(pairs: Pairs) -> list[int]:
    script = "require 'json'; JSON.parse(STDIN.read).each { |a, b| puts(Gem::Version.new(a) <=> Gem::Version.new(b)) }"
    return _run(["ruby", "-e", script], json.dumps(list(pairs)))


def composer(pairs: Pairs, workdir: Path) -> list[tuple[str, str, int]]:
    """composer/semver's VersionParser::normalize of both sides and Comparator's verdict on them (None for
    what normalize rejects)."""
    script = workdir / "compare.php"
    script.write_text(_COMPOSER_SCRIPT % COMPOSER_SEMVER)
    done = subprocess.run(
        ["php", str(script)], input=json.dumps(list(pairs)), capture_output=True, text=True, timeout=120, check=True
    )
    return [tuple(json.loads(line)) for line in done.stdout.splitlines()]


def have(*programs: str) -> bool:
    return all(shutil.which(program) for program in programs)
