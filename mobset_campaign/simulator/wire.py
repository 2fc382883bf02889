"""Reading requests as real clients send them: raw UTF-8, chunked and multipart bodies.

The vendor text asks for UTF-8 (编码格式：utf-8) and its example URL carries raw Chinese
(``...&Content=这是测试短信``); the public Java samples send it so, unencoded. Python's
``http.server`` reads the request line as Latin-1 and splits it with ``str.split()``, for
which the bytes 0x85 and 0xA0 (inside 公, 共, 入, 全, 关, 其 ...) are whitespace: the line
broke apart (400) or the text arrived as mojibake and was billed on its Latin-1 length.
:func:`ascii_request_line` percent-encodes every non-ASCII byte before that parser sees the
line, so it splits on ASCII spaces only and the query decodes as UTF-8.

Bodies: form-encoded (the vendor's recommended POST), ``multipart/form-data`` and
``Transfer-Encoding: chunked`` are read; the control API answers loopback Host names only
(:func:`is_loopback_host`), so a web page re-pointed at 127.0.0.1 (DNS rebinding) cannot
drive it.

>>> ascii_request_line("GET /SDK3/Sms?Content=公 HTTP/1.1\\r\\n".encode())
b'GET /SDK3/Sms?Content=%E5%85%AC HTTP/1.1\\r\\n'
>>> is_loopback_host("localhost:8095"), is_loopback_host("[::1]:843"), is_loopback_host("evil.example")
(True, True, False)
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Protocol
from urllib.parse import parse_qsl

__all__ = ["Refusal", "ascii_request_line", "form_pairs", "is_loopback_host", "read_chunked"]

_NON_ASCII = re.compile(rb"[\x80-\xff]")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")
_MAX_LINE = 8192
_MAX_TRAILERS = 64


class _Reader(Protocol):
    def read(self, size: int, /) -> bytes: ...
    def readline(self, size: int, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """An HTTP error to answer instead of reading on (the connection is closed after it)."""

    status: int
    reason: str


def ascii_request_line(raw: bytes) -> bytes:
    """The request line with each byte above 0x7F percent-encoded (``%E5%85%AC`` for 公)."""
    return _NON_ASCII.sub(lambda m: b"%%%02X" % m.group()[0], raw)


def is_loopback_host(value: str | None) -> bool:
    """True for a Host header naming a loopback address: ``localhost``, 127.0.0.0/8 or
    ``[::1]``, with or without a port. Anything else (another name, no Host) is False."""
    host = (value or "").strip()
    if host.startswith("["):
        name, bracket, port = host[1:].partition("]")
        if not bracket or (port and not (port.startswith(":") and port[1:].isdigit())):
            return False
    else:
        name, colon, port = host.partition(":")
        if colon and not port.isdigit():
            return False
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def read_chunked(rfile: _Reader, limit: int) -> bytes | Refusal:
    """A ``Transfer-Encoding: chunked`` body, its trailers read and dropped."""
    body = bytearray()
    while True:
        line = rfile.readline(_MAX_LINE)
        size_text = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size_text):
            return Refusal(400, "Bad chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            return Refusal(413, "Request Entity Too Large")
        chunk = rfile.read(size)
        if len(chunk) < size or rfile.readline(3) not in (b"\r\n", b"\n"):
            return Refusal(400, "Bad chunk")
        body += chunk
    for _ in range(_MAX_TRAILERS):
        line = rfile.readline(_MAX_LINE)
        if line in (b"\r\n", b"\n", b""):
            return bytes(body)
    return Refusal(400, "Too many trailers")


def form_pairs(query: str, body: bytes, content_type: str) -> list[tuple[str, str]] | Refusal:
    """The parameters of the query and, by its Content-Type, of the body (UTF-8)."""
    pairs = parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace")
    ctype = content_type.lower()
    if not body:
        return pairs
    if "multipart/form-data" in ctype:
        parts = _multipart(body, content_type)
        return parts if isinstance(parts, Refusal) else pairs + parts
    if "x-www-form-urlencoded" in ctype or "text/plain" in ctype or not ctype:
        pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return pairs


def _multipart(body: bytes, content_type: str) -> list[tuple[str, str]] | Refusal:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message: Message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        return Refusal(400, "Bad multipart/form-data body")
    pairs: list[tuple[str, str]] = []
    for part in message.get_payload():
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue  # a part without a field name carries no parameter
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        pairs.append((name, _decode(data, part.get_content_charset() or "utf-8")))
    return pairs


def _decode(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset, "replace")
    except LookupError:  # a charset Python does not know: read it as the vendor's UTF-8
        return data.decode("utf-8", "replace")
