"""How rows are keyed: a namespace per feed scope and package names in the form both sides agree on."""

from __future__ import annotations

import re

_PEP503_SEPARATORS = re.compile(r"[-_.]+")
# Ecosystems whose registries treat names case-insensitively.
_CASE_INSENSITIVE = {"NuGet", "Packagist"}


# A SUSE Linux Enterprise product of one release: "Server 15 SP5", "Module for Basesystem 15 SP5", "Server 15 SP5-LTSS",
# "High Performance Computing 15 SP7-ESPOS", "Server 12". SLE Micro and Storage are products of their own.
_SLE_PRODUCT = re.compile(r"^SUSE:Linux Enterprise (?!Micro |Storage )(?:.+ )?(\d+)(?: SP(\d+))?(?:-\S+)?$")
_LEAP_NON_FREE = re.compile(r"^(openSUSE:Leap \d+\.\d+) NonFree$")


# Enrichment rows (NVD today; KEV, EPSS next) are per CVE, not per package: one namespace, the CVE id as package.
CVE = "cve"


def package_key(osv_ecosystem: str, name: str) -> str:
    """The lookup form of a package name: PEP 503 for PyPI, lower case where the registry ignores case."""
    if osv_ecosystem == "PyPI":
        return _PEP503_SEPARATORS.sub("-", name).lower()
    if osv_ecosystem in _CASE_INSENSITIVE:
        return name.lower()
    return name


def osv(ecosystem: str) -> str:
    """`osv:PyPI`, `osv:Debian:12`, `osv:Alpine:v3.18`, `osv:Ubuntu:22.04` (OSV's `:LTS` suffix dropped: an image
    cannot tell), `osv:Red Hat:enterprise_linux:9` (Red Hat's `::appstream`/`::baseos` repository dropped: the
    installed rpm does not record its repository). `Ubuntu:Pro:…` stays apart: its fixes need a Pro subscription.

    SUSE files an SLE package under the product that ships it, mostly a module (`SUSE:Linux Enterprise Module for
    Basesystem 15 SP5`) or a support phase (`… Server 15 SP5-LTSS`), none of which an image names: every SLE
    product of a release is one namespace, `osv:SUSE:Linux Enterprise 15 SP5`, which SLES, SLED and SLE HPC
    images of that release read (as Trivy merges SUSE's products per release). Leap's `NonFree` repository joins
    its release."""
    if ecosystem.startswith("Ubuntu:") and ecosystem.endswith(":LTS"):
        ecosystem = ecosystem[: -len(":LTS")]
    elif ecosystem.startswith("Red Hat:"):
        ecosystem = ":".join(ecosystem.split(":")[:3])
    elif ecosystem.startswith("SUSE:") and (found := _SLE_PRODUCT.match(ecosystem)):
        major, service_pack = found.groups()
        ecosystem = f"SUSE:Linux Enterprise {major}" + (f" SP{service_pack}" if service_pack not in (None, "0") else "")
    elif ecosystem.endswith(" NonFree") and (found := _LEAP_NON_FREE.match(ecosystem)):
        ecosystem = found.group(1)
    return f"osv:{ecosystem}"


def debian(codename: str) -> str:
    return f"debian:{codename}"


def alpine(release: str) -> str:
    """`release` as secdb names it: `v3.18`."""
    return f"alpine:{release}"


def rpm_vendor(feed: str, release: str) -> str:
    """A vendor rpm feed's release: `amazon:2023`, `oracle:9`, `photon:5.0`."""
    return f"{feed}:{release}"


def rolling(distro: str) -> str:
    """A distribution without releases (Wolfi, Chainguard): `wolfi:`."""
    return f"{distro}:"


def vendor_status(feed: str, release: str) -> str:
    """A vendor status feed's release: `ubuntu:22.04`, `redhat:9`, `wolfi-advisories:` (rolling)."""
    return f"{feed}:{release}"
