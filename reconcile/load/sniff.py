"""What a file really is, from its first bytes: the extension is what a person typed, the bytes are what the
program wrote (issue 16: an xlsx saved as .csv, an HTML "xls", a zip of exports).

`sniff` names the kind; `refuse_mismatch` stops a read whose configured format the bytes contradict, with
one Chinese sentence that says what the file is and what to do. Nothing here reads more than the head.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import InputError

_HEAD = 4096

# kind -> how a person calls it
KIND_LABELS = {
    "xlsx": "Excel 工作簿(.xlsx)",
    "ole": "Excel 97-2003 工作簿(.xls)或加密的工作簿",
    "zip": "zip 压缩包",
    "parquet": "Parquet 数据文件",
    "pdf": "PDF 文档",
    "image": "图片",
    "archive": "压缩包(rar/7z/gz)",
    "html": "网页(HTML)表格",
    "xml_sheet": "XML 表格(Excel 2003 XML)",
    "sqlite": "SQLite 数据库",
    "text": "文本(CSV)文件",
    "binary": "二进制文件(不是文本,也不是 Excel)",
    "empty": "空文件",
}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty zip
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"PAR1", "parquet"),
    (b"%PDF", "pdf"),
    (b"\x89PNG", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF8", "image"),
    (b"Rar!", "archive"),
    (b"7z\xbc\xaf\x27\x1c", "archive"),
    (b"\x1f\x8b", "archive"),
    (b"SQLite format 3\x00", "sqlite"),
)


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "zip"  # starts like a zip and is broken: the Excel reader says so in its own words
    if "xl/workbook.xml" in names or any(n.startswith("xl/worksheets/") for n in names):
        return "xlsx"
    return "zip"


def _text_kind(head: bytes) -> str:
    # UTF-16 text (Excel's "Unicode 文本") is full of NUL bytes yet text: its BOM says so
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")) or b"<table" in stripped[:1024]:
        return "html"
    if stripped.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        return "xml_sheet"
    # control bytes other than tab, CR, LF (and the odd NUL, form feed or escape a broken export leaves) are rare in
    # text; a file made of them is not a table
    controls = sum(1 for b in head if b < 0x20 and b not in (0x09, 0x0A, 0x0D, 0x0C, 0x1B))
    if head and controls > max(8, len(head) // 20):
        return "binary"
    return "text"


def sniff(path: Path) -> str:
    """The kind of file the bytes say (a key of KIND_LABELS)."""
    with Path(path).open("rb") as fh:
        head = fh.read(_HEAD)
    if not head:
        return "empty"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return _zip_kind(path) if kind == "zip" else kind
    return _text_kind(head)


def refuse_mismatch(path: Path, fmt: str) -> None:
    """Stop when the bytes contradict the format the file is read as (csv or xlsx); say what it really is."""
    try:
        kind = sniff(path)
    except OSError as exc:
        raise InputError(f"无法打开文件 {path}:{exc.strerror or exc}") from exc
    label = KIND_LABELS[kind]
    if fmt == "csv":
        if kind in ("xlsx", "ole"):
            raise InputError(f"文件 {path} 的扩展名是 {path.suffix or '(无)'},但它其实是{label}。"
                             "请把扩展名改为 .xlsx(旧版 .xls 请在 Excel/WPS 中另存为 .xlsx),或在配置中写 format: xlsx。")
        if kind == "parquet":
            raise InputError(f"文件 {path} 其实是{label}。请把扩展名改为 .parquet,或在配置中写 format: parquet。")
        if kind in ("zip", "archive"):
            raise InputError(f"文件 {path} 其实是{label},不是 CSV 文本。请先解压,再在配置中指向解压出的文件。")
        if kind in ("html", "xml_sheet"):
            raise InputError(f"文件 {path} 其实是{label},不是 CSV 文本。请用 Excel/WPS 打开后另存为 .xlsx 或 CSV。")
        if kind in ("pdf", "image", "sqlite", "binary"):
            raise InputError(f"文件 {path} 其实是{label},不是 CSV 文本,无法读取。请检查配置中的 path 是否指向了正确的文件。")
    elif fmt == "xlsx":
        if kind in ("xlsx", "ole", "zip"):
            return  # the Excel reader decides (a broken zip gets its own message)
        where = f"无法读取 Excel 文件 {path}:它其实是{label}"
        if kind == "text":
            raise InputError(f"{where}(扩展名被改成了 {path.suffix})。请把扩展名改为 .csv,或在配置中写 format: csv。")
        if kind in ("html", "xml_sheet"):
            raise InputError(f"{where}(许多系统把网页表格存成 .xls)。请用 Excel/WPS 打开后另存为 .xlsx。")
        if kind == "empty":
            raise InputError(f"{where},没有任何内容。请重新导出。")
        raise InputError(f"{where},不是 Excel 工作簿。请检查配置中的 path 是否指向了正确的文件。")
