"""crscan: a self-hosted container image vulnerability scanner."""

__version__ = "0.1.0"
