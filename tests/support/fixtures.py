"""Session fixtures for the local OCI registry and the real test images (see tests/support/images.py)."""
