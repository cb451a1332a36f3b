"""Registry clients kept open across image pulls, so the pulls of one registry share connections and tokens.

An image whose layers are all indexed already costs two small requests (manifest, config); a new client per
image added a TCP (and TLS) handshake, and on registries with token auth a 401 and a token request, to each.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from crscan.registry.auth import Credentials
from crscan.registry.client import RegistryClient

DEFAULT_MAX_CLIENTS = 32


class ClientPool:
    """One `RegistryClient` per registry and connection settings (credentials, TLS, realm hosts, timeout), the
    least recently used dropped beyond `max_clients`. Thread-safe; `RegistryClient` is safe to share."""

    def __init__(self, max_clients: int = DEFAULT_MAX_CLIENTS) -> None:
        self.max_clients = max_clients
        self._clients: OrderedDict[Any, RegistryClient] = OrderedDict()
        self._lock = threading.Lock()

    def client(
        self,
        registry: str,
        *,
        credentials: Credentials | None = None,
        insecure: bool | None = None,
        ca_file: str | None = None,
        auth_realm_hosts: Iterable[str] = (),
        timeout: float = 30.0,
    ) -> RegistryClient:
        """The pool's client for these settings (new settings, e.g. changed credentials, get a new client)."""
        realm_hosts = tuple(auth_realm_hosts)
        key = (registry, credentials, insecure, ca_file or None, realm_hosts, timeout)
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
        client = RegistryClient(registry, credentials=credentials, insecure=insecure, ca_file=ca_file,
                                auth_realm_hosts=realm_hosts, timeout=timeout)
        with self._lock:
            existing = self._clients.setdefault(key, client)
            self._clients.move_to_end(key)
            while len(self._clients) > self.max_clients:
                # Not closed: a pull in another thread may still be reading through it; its sockets close
                # when it is garbage.
                self._clients.popitem(last=False)
        if existing is not client:
            client.close()  # another thread made one first
        return existing

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            client.close()
