"""Bounded parsing of an upload's multipart form: what one request may cost the server.

Why not werkzeug's own form parsing: it keeps every file part in a temporary file (one
descriptor each), and its memory bound covers text fields only. Here every part, field,
file part and the whole body is counted against :class:`UploadLimits` whatever the framing
(Content-Length or chunked), and the ``content`` part is streamed into a staging file next
to its destination while its digests are computed, so no upload is held in memory.
:mod:`~pytest_privrepo.index.upload` applies Warehouse's rules to what this yields.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from werkzeug.wrappers import Request

from ..dists.inspect import MAX_ARCHIVE_MEMBERS, MAX_SCANNED_SIZE

__all__ = ["DIGESTS", "HashingFile", "UploadLimits", "UploadRejected", "UploadRequest",
           "describe_size"]

#: the form's digest fields and the hashlib algorithm of each
DIGESTS = (("md5_digest", "md5"), ("sha256_digest", "sha256"), ("blake2_256_digest", "blake2b"))


class UploadRejected(Exception):
    """Raised inside validation; becomes a response with that status and reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class HashingFile:
    """The stream werkzeug writes the file part into: hashes while writing to disk."""

    def __init__(self, directory: Path, limit: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=directory)
        self.path = Path(name)
        self._f = os.fdopen(fd, "w+b")
        # blake2_256_digest is BLAKE2b with a 32-byte digest (hashlib's default is 64)
        self.hashes = {algo: hashlib.blake2b(digest_size=32) if algo == "blake2b"
                       else hashlib.new(algo) for _, algo in DIGESTS}
        self.size = 0
        self.limit = limit

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size <= self.limit:  # past the limit: count only, refuse later
            for h in self.hashes.values():
                h.update(data)
            self._f.write(data)
        return len(data)

    def hexdigest(self, algo: str) -> str:
        return self.hashes[algo].hexdigest()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def discard(self) -> None:
        self._f.close()
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class UploadLimits:
    """What one upload request may cost the server, whatever its framing.

    ``max_upload_size`` (per index) bounds the file; these bound everything else, so that no
    single request grows the server by more than a few tens of MiB or keeps it busy for long:
    a chunked body is held to the same total as one with a Content-Length, and the file is
    streamed to disk while text fields are kept in memory only up to ``max_form_memory``.
    Give an index other limits with ``privrepo.index(..., upload_limits=UploadLimits(...))``
    (or assign ``index.upload_limits``).
    """

    #: multipart parts of any kind (twine sends ~20 plus one per classifier)
    max_parts: int = 1000
    #: parts with a filename: ``content`` plus one more (old twine's ``gpg_signature``)
    max_file_parts: int = 2
    #: one text field (``description`` holds the README)
    max_field_size: int = 2 * 1024 * 1024
    #: all text fields and non-``content`` file parts together, as held in memory
    max_form_memory: int = 4 * 1024 * 1024
    #: the wheel's METADATA or the sdist's PKG-INFO
    max_metadata_size: int = 2 * 1024 * 1024
    #: archive members scanned (zip central directory entries, tar members)
    max_archive_members: int = MAX_ARCHIVE_MEMBERS
    #: decompressed bytes of an sdist tarball read while looking for PKG-INFO (gzip bombs)
    max_scanned_size: int = MAX_SCANNED_SIZE
    #: a request body may exceed ``max_upload_size`` by this much (form fields, part headers)
    form_overhead: int = 1024 * 1024


_DECODER_BUFFER = 1024 * 1024


class _UploadParser(MultiPartParser):
    """werkzeug's multipart loop with the limits of :class:`UploadLimits` on every part.

    Only the ``content`` part goes to a staging file (one file descriptor per request, not
    one per file part: 5,000 file parts used to hold 5,013 descriptors); any other file part
    is kept in memory and counted with the text fields.
    """

    def __init__(self, request: "UploadRequest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._request = request

    def parse(self, stream: Any, boundary: bytes, content_length: int | None
              ) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
        limits = self._request.limits
        # The decoder's own bound is on its buffer (unparsed part headers, a partial event).
        decoder = MultipartDecoder(boundary, max_form_memory_size=_DECODER_BUFFER)
        fields: list[tuple[str, str]] = []
        files: list[tuple[str, FileStorage]] = []
        memory = 0
        file_parts = 0
        parts = 0
        part: Field | File | None = None
        size = 0
        buffer: list[bytes] = []
        sink: Any = None
        while True:
            data = stream.read(self.buffer_size)
            decoder.receive_data(data or None)
            event = decoder.next_event()
            while not isinstance(event, (Epilogue, NeedData)):
                if isinstance(event, (Field, File)):
                    parts += 1
                    if parts > limits.max_parts:
                        raise UploadRejected(413, f"Too many form parts in one upload: at most "
                                                  f"{limits.max_parts}.")
                if isinstance(event, File):
                    file_parts += 1
                    if file_parts > limits.max_file_parts:
                        raise UploadRejected(413, f"Too many files in one upload: at most "
                                                  f"{limits.max_file_parts} file parts.")
                    part, size, buffer = event, 0, []
                    sink = None
                    if event.name == "content" and self._request.content is None:
                        sink = self._request.content = HashingFile(
                            self._request.staging, self._request.limit)
                elif isinstance(event, Field):
                    part, size, buffer, sink = event, 0, [], None
                elif isinstance(event, Data) and part is not None:
                    if sink is not None:
                        sink.write(event.data)
                    else:
                        size += len(event.data)
                        memory += len(event.data)
                        if isinstance(part, Field) and size > limits.max_field_size:
                            raise UploadRejected(413, f"Form field {part.name[:50]!r} is too "
                                                      f"large: at most {describe_size(limits.max_field_size)}.")
                        if memory > limits.max_form_memory:
                            raise UploadRejected(413, "Form fields are too large: at most "
                                                      f"{describe_size(limits.max_form_memory)} in all.")
                        buffer.append(event.data)
                    if not event.more_data:
                        if isinstance(part, Field):
                            value = b"".join(buffer).decode(
                                self.get_part_charset(part.headers), "replace")
                            fields.append((part.name, value))
                        else:
                            container: Any = sink if sink is not None else io.BytesIO(b"".join(buffer))
                            container.seek(0)
                            files.append((part.name, FileStorage(container, part.filename, part.name,
                                                                 headers=part.headers)))
                        part, buffer, sink = None, [], None
                event = decoder.next_event()
            if not data:
                break
        return self.cls(fields), self.cls(files)


class _UploadFormParser(FormDataParser):
    def __init__(self, request: "UploadRequest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._request = request

    def _parse_multipart(self, stream: Any, mimetype: str, content_length: int | None,
                         options: dict[str, str]) -> Any:
        boundary = options.get("boundary", "").encode("ascii", "replace")
        if not boundary:
            raise ValueError("Missing boundary")
        parser = _UploadParser(self._request, cls=self.cls)
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class UploadRequest(Request):
    """werkzeug Request whose form is parsed by :class:`_UploadParser` under ``limits``."""

    staging: Path
    limit: int
    limits: UploadLimits
    content: "HashingFile | None" = None

    def make_form_data_parser(self) -> FormDataParser:
        return _UploadFormParser(self, max_content_length=self.max_content_length,
                                 cls=self.parameter_storage_class)


def describe_size(size: int) -> str:
    """A limit as an error message states it: bytes below 1 MiB, else MiB."""
    if size < 1024 * 1024:
        return f"{size} bytes"
    return f"{size / (1024 * 1024):g} MiB"
