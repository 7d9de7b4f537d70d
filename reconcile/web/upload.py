"""Multipart uploads streamed straight into the workspace's tmp/ folder, with a size limit.

Starlette's own form parser spools uploads to the system temp folder; this one writes each file
part to `tmp/.upload-<random>` as it arrives (so nothing lands outside the app's working folder),
counts the bytes of the whole request and stops at the limit. The client's file name is returned as
display text only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

MAX_FIELD = 64 * 1024


class UploadTooLarge(Exception):
    pass


class UploadError(Exception):
    pass


@dataclass
class Received:
    name: str  # as the client sent it: display text, never a path
    path: Path  # tmp/.upload-<random>
    size: int


def _filename(disposition: bytes) -> tuple[str | None, str | None]:
    _, params = parse_options_header(disposition)
    name = params.get(b"name")
    filename = params.get(b"filename")

    def decode(value: bytes | None) -> str | None:
        return value.decode("utf-8", errors="replace") if value is not None else None

    return decode(name), decode(filename)


async def receive(request: Request, tmp: Path, max_bytes: int) -> list[Received]:
    """Every file part of the request, written under `tmp`; raises UploadTooLarge past `max_bytes`."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UploadError("请使用页面上的“上传文件”按钮选择文件后上传。")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise UploadTooLarge
    tmp.mkdir(parents=True, exist_ok=True)
    received: list[Received] = []
    opened: list[Path] = []
    part: dict = {}

    def on_part_begin() -> None:
        part.clear()
        part.update(headers={}, field=b"", value=b"", fh=None, size=0, filename=None)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part["value"] += data[start:end]

    def on_header_end() -> None:
        part["headers"][part["field"].lower()] = part["value"]
        part["field"], part["value"] = b"", b""

    def on_headers_finished() -> None:
        _, filename = _filename(part["headers"].get(b"content-disposition", b""))
        if filename:  # an empty filename is a file input with nothing chosen
            path = tmp / f".upload-{secrets.token_hex(8)}"
            opened.append(path)
            part.update(filename=filename, path=path, fh=path.open("wb"))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        fh: BinaryIO | None = part.get("fh")
        if fh is not None:
            fh.write(data[start:end])
            part["size"] += end - start

    def on_part_end() -> None:
        fh = part.get("fh")
        if fh is not None:
            fh.close()
            received.append(Received(part["filename"], part["path"], part["size"]))

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > max_bytes:
                raise UploadTooLarge
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        _cleanup(part, opened)
        raise UploadError("上传的数据不完整或格式不对,请重新选择文件上传。") from exc
    except BaseException:
        _cleanup(part, opened)
        raise
    return received


def _cleanup(part: dict, opened: list[Path]) -> None:
    fh = part.get("fh")
    if fh is not None and not fh.closed:
        fh.close()
    for path in opened:
        path.unlink(missing_ok=True)
