"""Answers of read methods kept until the store changes, for both transports.

A CI fleet polling GetLast, or dashboards listing the same pages, ask the same questions of data that changes
only when a scan ends or a registry syncs. A read method decorated with `cached_read` answers from here while
the store generation (`crscan.store.generation`: a counter every write bumps in its own transaction, in any
process) is still the one read before the answer was computed; any write since makes every entry a miss.

The key is the method, the request's deterministic serialization and the caller's token id and registry scope
(after the auth hook accepted the caller, as for any call): an answer, its page tokens included, is only ever
given to the caller it was computed for. Only answers are cached, never errors. REST keeps each answer's JSON
rendering with it (`rendered`), so a hit costs one counter read and no protobuf or JSON work.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from crscan.api.auth import current_caller
from crscan.store import Store

log = logging.getLogger(__name__)

MAX_ENTRIES = 2048
MAX_BYTES = 32 << 20  # serialized answers and their JSON bodies; a page of 1000 findings is ~150 KiB + ~400 KiB

Key = tuple[str, bytes, str, frozenset[str] | None]
Method = TypeVar("Method", bound=Callable[..., Any])


@dataclass
class Entry:
    message: Message
    size: int  # bytes counted against MAX_BYTES: the serialized message, then its JSON body too
    json: bytes | None = None  # the REST body, rendered on the first REST request that needs it


class ResponseCache:
    """One per store and process; thread-safe (servicers run in thread pools)."""

    def __init__(self, store: Store, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES):
        self._store = store
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, Entry] = OrderedDict()  # least recently used first
        self._by_message: dict[int, Entry] = {}  # id(entry.message) → entry, for `rendered`
        self._bytes = 0
        self._generation: int | None = None  # the generation every entry was computed at
        self._usable: bool | None = None  # None until the triggers were checked

    @functools.cached_property
    def inline_reads(self) -> bool:
        """Whether a lookup may run on an event loop: SQLite reads are local and take microseconds, less than
        handing a request to a thread; a PostgreSQL read is a network round trip no event loop should wait for."""
        return self._store.engine.dialect.name == "sqlite"

    def usable(self) -> bool:
        """Whether the database bumps the generation on every write; without that, nothing is cached."""
        if self._usable is None:
            missing = self._store.generation.missing_triggers()
            if missing:
                log.warning("response cache off: the store lacks the generation triggers %s (migration 0011 made "
                            "them; a later table rebuild drops a SQLite table's triggers)", ", ".join(missing))
            self._usable = not missing
        return self._usable

    def key(self, method: str, request: Message) -> Key:
        caller = current_caller()
        return method, request.SerializeToString(deterministic=True), caller.token_id, caller.registries

    def generation(self) -> int:
        return self._store.generation.read()

    def get(self, key: Key, generation: int) -> Message | None:
        """The answer computed at `generation` for `key`, if the cache holds it."""
        entry = self._entry(key, generation)
        return entry.message if entry is not None else None

    def _entry(self, key: Key, generation: int) -> Entry | None:
        with self._lock:
            if generation != self._generation:
                return None
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Key, generation: int, message: Message) -> None:
        """Keep `message`, computed from data read after `generation` was read."""
        size = message.ByteSize()
        if size > self._max_bytes // 8:
            return
        with self._lock:
            if generation != self._generation:  # the store changed: every entry is stale
                self._entries.clear()
                self._by_message.clear()
                self._bytes = 0
                self._generation = generation
            if (old := self._entries.pop(key, None)) is not None:
                self._forget(old)
            entry = Entry(message, size)
            self._entries[key] = entry
            self._by_message[id(message)] = entry
            self._bytes += size
            self._evict()

    def _evict(self) -> None:
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            self._forget(self._entries.popitem(last=False)[1])

    def _forget(self, entry: Entry) -> None:
        del self._by_message[id(entry.message)]
        self._bytes -= entry.size

    def rendered(self, message: Message, render: Callable[[Message], bytes]) -> bytes:
        """`render(message)`, kept with the entry when `message` is a cached answer."""
        with self._lock:
            entry = self._by_message.get(id(message))
            if entry is not None and entry.message is not message:
                entry = None
            if entry is not None and entry.json is not None:
                return entry.json
        body = render(message)
        if entry is not None:
            with self._lock:
                if entry.json is None and self._by_message.get(id(message)) is entry:  # still held
                    entry.json = body
                    entry.size += len(body)
                    self._bytes += len(body)
                    self._evict()
        return body

    def cached_body(self, method: str, request: Message) -> bytes | None:
        """The rendered body of the answer the cache holds for `request` now, None when it has none (or has
        the answer but not yet its body); inside the caller's authenticated call."""
        if not self.usable():
            return None
        entry = self._entry(self.key(method, request), self.generation())
        return entry.json if entry is not None else None

    def call(self, method: str, request: Message, compute: Callable[[], Message]) -> Message:
        """The answer to `request`: cached, or computed by `compute` and kept."""
        if not self.usable():
            return compute()
        key = self.key(method, request)
        generation = self.generation()  # before the data is read: a write after it makes the entry stale
        cached = self.get(key, generation)
        if cached is not None:
            return cached
        message = compute()
        self.put(key, generation, message)
        return message


def cached_read(method: Method) -> Method:
    """A servicer read method answered from its servicer's `responses` cache (None: no caching)."""
    name = method.__qualname__

    @functools.wraps(method)
    def wrapper(self: Any, request: Message, context: grpc.ServicerContext) -> Message:
        cache: ResponseCache | None = self.responses
        if cache is None:
            result: Message = method(self, request, context)
            return result
        return cache.call(name, request, lambda: method(self, request, context))

    wrapper.cached_name = name  # type: ignore[attr-defined]  # the key's method part, for `peek`-style callers
    return wrapper  # type: ignore[return-value]
