"""Small real images written straight into a registry through the push API (blob upload + manifest PUT)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import ssl
import tarfile

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(content: str) -> tuple[bytes, bytes]:
    """(gzip blob, uncompressed tar) of one file /hello.txt holding `content`."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = content.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0), raw.getvalue()


class Pusher:
    """Pushes to `base_url` (http://host:port) with optional Basic credentials."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None = None, verify: ssl.SSLContext | bool = True):
        self.http = httpx.Client(base_url=base_url, auth=auth, timeout=30, verify=verify)

    def close(self) -> None:
        self.http.close()

    def blob(self, repository: str, data: bytes) -> str:
        digest = _digest(data)
        started = self.http.post(f"/v2/{repository}/blobs/uploads/")
        started.raise_for_status()
        location = started.headers["Location"]
        separator = "&" if "?" in location else "?"
        done = self.http.put(f"{location}{separator}digest={digest}", content=data,
                             headers={"Content-Type": "application/octet-stream"})
        done.raise_for_status()
        return digest

    def manifest(self, repository: str, reference: str, document: dict, media_type: str) -> str:
        body = json.dumps(document).encode()
        response = self.http.put(f"/v2/{repository}/manifests/{reference}", content=body,
                                 headers={"Content-Type": media_type})
        response.raise_for_status()
        return _digest(body)

    def image(self, repository: str, tag: str | None, seed: str, architecture: str = "amd64",
              created: str | None = None) -> dict:
        """Push a one-layer image (config `created` as given, else none); returns its manifest digest, config and
        layer descriptors."""
        blob, tar = _layer(seed)
        fields = {"architecture": architecture, "os": "linux", "rootfs": {"type": "layers", "diff_ids": [_digest(tar)]}}
        config = json.dumps(fields if created is None else {"created": created, **fields}).encode()
        config_descriptor = {"mediaType": OCI_CONFIG, "digest": self.blob(repository, config), "size": len(config)}
        layer_descriptor = {"mediaType": OCI_LAYER, "digest": self.blob(repository, blob), "size": len(blob)}
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_descriptor,
                    "layers": [layer_descriptor]}
        body_digest = _digest(json.dumps(document).encode())
        digest = self.manifest(repository, tag or body_digest, document, OCI_MANIFEST)
        return {"digest": digest, "config": config_descriptor, "layers": [layer_descriptor],
                "size": len(json.dumps(document).encode())}

    def index(self, repository: str, tag: str, seed: str) -> dict:
        """Push an arm64 + amd64 index (children untagged); returns its digest and the amd64 image."""
        arm = self.image(repository, None, seed + "-arm64", "arm64")
        amd = self.image(repository, None, seed + "-amd64", "amd64")
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": arm["digest"], "size": arm["size"],
             "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": OCI_MANIFEST, "digest": amd["digest"], "size": amd["size"],
             "platform": {"os": "linux", "architecture": "amd64"}},
        ]}
        return {"digest": self.manifest(repository, tag, document, OCI_INDEX), "amd64": amd, "arm64": arm}

    def delete_manifest(self, repository: str, digest: str) -> None:
        self.http.delete(f"/v2/{repository}/manifests/{digest}").raise_for_status()
