"""An xlsx is checked before the Excel reader (calamine, through fastexcel) touches it (issue 16, hostile input).

Measured here (fastexcel 0.21): calamine sizes a sheet from the positions of its filled cells, not from the
`<dimension>` the file declares, and allocates 32 bytes for every cell of that rectangle before it reads a
value. One filled cell at XFD1048576 in a 15 KB file asks for 2^34 cells = 512 GiB and aborts the process
("memory allocation of 549755813888 bytes failed") — `n_rows` does not help, the rectangle comes first. A
lying `<dimension>` alone is harmless (calamine ignores it), so it is used only as a cheap hint and checked.

What is refused, each with one Chinese sentence naming the file (InputError), before the reader opens it:

- a zip member larger than MAX_MEMBER_BYTES, members larger than MAX_TOTAL_BYTES together, or a large member
  compressed more than MAX_RATIO : 1 (a zip bomb); the members the reader opens are inflated here once, in
  chunks, so a size the zip directory understates fails its CRC here instead of inflating without end there;
- shared strings over MAX_SHARED_STRINGS_BYTES (the reader keeps them all in memory);
- a sheet whose filled cells span more than MAX_SHEET_CELLS (rows × columns).

The same pass over the sheet XML collects the error cells (`t="e"`: #DIV/0!, #N/A …), which the reader gives
back as empty cells: the load stage reports each one (absent, not blank).

Cost: one streaming inflate of the sheet and of the shared strings plus two regex scans at C speed
(a 300 MB sheet XML: about a second); results are cached per file, size, mtime and sheet, so the run plan's
header peek and the load stage check a workbook once. Only .xlsx/.xlsm (zip + XML) are checked: an .xls is
bounded by its format (65,536 × 256 cells), and an .xlsb's binary parts are only checked for zip sizes.
"""

from __future__ import annotations

import dataclasses
import html
import re
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..errors import InputError

MAX_MEMBER_BYTES = 2 << 30  # one member, uncompressed (a county's sheet XML is a few hundred MB)
MAX_TOTAL_BYTES = 4 << 30  # every member together
MAX_RATIO = 250  # uncompressed : compressed, for members over RATIO_FLOOR (real sheet XML: about 10 : 1)
RATIO_FLOOR = 64 << 20
MAX_SHARED_STRINGS_BYTES = 512 << 20
MAX_SHEET_CELLS = 50_000_000  # ≈ 1.6 GB in the reader: 1,048,576 rows × 47 columns still pass
_SMALL_MEMBER = 16 << 20  # workbook.xml and its relationships are read whole, never more than this
_CHUNK = 16 << 20
_MAX_CARRY = 64 << 20


@dataclass(frozen=True)
class SheetRef:
    name: str
    member: str | None  # the zip path of its XML; None when the workbook does not say


@dataclass(frozen=True)
class SheetScan:
    rows: int  # the filled cells' rectangle (an upper bound when the file's dimension was used)
    columns: int
    errors: tuple[tuple[int, int, str], ...]  # (1-based row, 0-based column, text) of error cells
    member: str | None = None  # the zip path of the sheet's XML (number_cells reads it again)


def col_number(letters: bytes | str) -> int:
    n = 0
    for ch in letters.decode() if isinstance(letters, bytes) else letters:
        n = n * 26 + ord(ch) - 64
    return n


def col_letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def _int_above(n: int) -> str:
    """A regex for decimal integers (no leading zero) greater than n."""
    s = str(n)
    alts = [f"[1-9][0-9]{{{len(s)},}}"]
    for i, ch in enumerate(s):
        if ch != "9":
            nxt = int(ch) + 1
            alts.append(s[:i] + (f"[{nxt}-9]" if nxt < 9 else "9") + f"[0-9]{{{len(s) - i - 1}}}")
    return "(?:" + "|".join(alts) + ")"


def _letters_above(letters: str) -> str:
    """A regex for column letters after `letters` (A < … < Z < AA < …)."""
    alts = [f"[A-Z]{{{len(letters) + 1},}}"]
    for i, ch in enumerate(letters):
        if ch != "Z":
            nxt = chr(ord(ch) + 1)
            alts.append(letters[:i] + (f"[{nxt}-Z]" if nxt < "Z" else "Z") + f"[A-Z]{{{len(letters) - i - 1}}}")
    return "(?:" + "|".join(alts) + ")"


def _too_big(path: Path, what: str) -> InputError:
    return InputError(f"拒绝读取 Excel 文件 {path}:{what}。正常的导出文件不会这样,文件可能已损坏或被恶意构造;"
                      "请在 Excel/WPS 中打开核对,删除多余内容后另存为 .xlsx 再用。")


def _check_members(path: Path, z: zipfile.ZipFile) -> None:
    total = 0
    for info in z.infolist():
        total += info.file_size
        if info.file_size > MAX_MEMBER_BYTES:
            raise _too_big(path, f"其中的 {info.filename} 解压后有 {info.file_size >> 20} MB,超过上限 {MAX_MEMBER_BYTES >> 20} MB")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _too_big(path, f"其中的 {info.filename} 压缩比超过 {MAX_RATIO}:1(解压后 {info.file_size >> 20} MB),"
                                 "是“压缩炸弹”的特征")
    if total > MAX_TOTAL_BYTES:
        raise _too_big(path, f"解压后共 {total >> 20} MB,超过上限 {MAX_TOTAL_BYTES >> 20} MB")


def _read_small(path: Path, z: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = z.getinfo(name)
    except KeyError:
        return None
    if info.file_size > _SMALL_MEMBER:
        raise _too_big(path, f"其中的 {name} 解压后有 {info.file_size >> 20} MB,远超正常大小")
    with z.open(info) as fh:
        return fh.read(_SMALL_MEMBER + 1)[:_SMALL_MEMBER]


def _drain(z: zipfile.ZipFile, name: str) -> None:
    """Inflate a member in chunks and drop it: zipfile stops at the declared size and checks the CRC, so a
    member that inflates to more than its directory says fails here (BadZipFile)."""
    try:
        info = z.getinfo(name)
    except KeyError:
        return
    with z.open(info) as fh:
        while fh.read(_CHUNK):
            pass


_SHEET_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheet\b[^>]*>")
_ATTR = re.compile(rb'([\w:.-]+)\s*=\s*"([^"]*)"')
_REL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Relationship\b[^>]*>")


def _sheet_refs(workbook: bytes, rels: bytes | None) -> list[SheetRef]:
    targets: dict[bytes, bytes] = {}
    for tag in _REL.findall(rels or b""):
        attrs = dict(_ATTR.findall(tag))
        if b"Id" in attrs and b"Target" in attrs:
            targets[attrs[b"Id"]] = attrs[b"Target"]
    refs = []
    for tag in _SHEET_TAG.findall(workbook):
        attrs = dict(_ATTR.findall(tag))
        name = html.unescape(attrs.get(b"name", b"").decode("utf-8", "replace"))
        rid = next((v for k, v in attrs.items() if k.endswith(b":id") or k == b"id"), None)
        target = targets.get(rid) if rid else None
        member = None
        if target:
            text = target.decode("utf-8", "replace")
            member = text.lstrip("/") if text.startswith("/") else "xl/" + text.removeprefix("./")
        refs.append(SheetRef(name, member))
    return refs


def _open(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"无法读取 Excel 文件 {path}:文件可能已损坏、设置了打开密码,或不是 xlsx 格式(例如改了扩展名的"
                         " CSV,或 WPS/Excel 97-2003 的 .xls 旧格式:请在 Excel 或 WPS 中另存为 .xlsx 后重新使用)。") from exc


def _damaged(path: Path, exc: Exception) -> InputError:
    return InputError(f"无法读取 Excel 文件 {path}:压缩内容已损坏(解压后的大小或校验与文件目录不符)。"
                      "请重新导出或在 Excel/WPS 中另存为 .xlsx。")


def is_zip_workbook(path: Path) -> bool:
    with Path(path).open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def workbook_sheets(path: Path) -> list[SheetRef]:
    """The sheets of a zip workbook in file order, after its zip sizes were checked (nothing else opened yet)."""
    path = Path(path)
    with _open(path) as z:
        _check_members(path, z)
        try:
            workbook = _read_small(path, z, "xl/workbook.xml")
            rels = _read_small(path, z, "xl/_rels/workbook.xml.rels")
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise _damaged(path, exc) from exc
    return _sheet_refs(workbook, rels) if workbook is not None else []


# ---- the sheet XML ---------------------------------------------------------------------------------------

_PREFIX = re.compile(rb"<([A-Za-z_][\w.-]*:)?worksheet\b")
_REF = r'\sr="([A-Z]+)([0-9]+)"'  # a cell tag's reference: column letters, row number
_DIMENSION = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?dimension\b[^>]*\bref="([A-Z]+)?([0-9]+)?(?::([A-Z]+)([0-9]+))?"')


class _Patterns:
    """The regexes over one sheet's XML, for the namespace prefix its tags carry. `outside` and the cell
    extents run in polars (Rust regex, linear time: 250 MB of sheet XML in under half a second, where Python's
    `re` takes 2–5 s because `r="` starts every cell); the error cells, rare, in Python."""

    def __init__(self, prefix: bytes):
        self.prefix = prefix.decode()
        p = re.escape(prefix)
        self.cell_start = (b"<" + prefix + b"c ", b"<" + prefix + b"c>")
        self.cell_tag = self.cells_in("[A-Z]+")
        self.error_cell = re.compile(
            rb"<" + p + rb'c\b(?=[^>]*\st="e")[^>]*?\sr="([A-Z]+)([0-9]+)"[^>]*>'
            rb"(?:(?!</" + p + rb"c>).)*?<" + p + rb"v>([^<]*)</" + p + rb"v>", re.S)

    @classmethod
    def of(cls, first: bytes) -> _Patterns:
        """The patterns for a sheet, from its first bytes: the main namespace's prefix as the root element has it
        (`<x:worksheet>` writers put it on every tag)."""
        found = _PREFIX.search(first)
        return cls((found.group(1) or b"") if found else b"")

    def cells_in(self, letters: str) -> str:
        """Cell tags (`<c …>`, self-closing ones too) whose reference's column letters match `letters`."""
        return "<" + re.escape(self.prefix) + r'c\b[^>]*?\sr="(?:' + letters + r')[0-9]+"[^>]*>'

    def outside(self, rows: int, columns: int) -> str:
        """Filled cells (not self-closing: `<c r="B7" s="3"/>` is formatting only) beyond a declared rectangle."""
        beyond = f"(?:{_letters_above(col_letters(columns))}[0-9]+|[A-Z]+{_int_above(rows)})"
        return "<" + re.escape(self.prefix) + r'c\b[^>]*?\sr="' + beyond + r'"[^>/]*>'


def _chunks(fh, first: bytes, cell_start: tuple[bytes, bytes]):
    """The sheet XML in pieces that end before the last cell tag started in them (no cell is split)."""
    buf = first
    while True:
        data = fh.read(_CHUNK)
        if not data:
            yield buf
            return
        buf += data
        cut = max(buf.rfind(cell_start[0]), buf.rfind(cell_start[1]))
        if cut <= 0:
            if len(buf) < _MAX_CARRY:
                continue
            cut = buf.rfind(b"<")
        yield buf[:cut]
        buf = buf[cut:]


def _errors_in(piece: bytes, patterns: _Patterns, found: list[tuple[int, int, str]]) -> None:
    if b't="e"' not in piece:
        return
    for m in patterns.error_cell.finditer(piece):
        found.append((int(m.group(2)), col_number(m.group(1)) - 1, html.unescape(m.group(3).decode("utf-8", "replace"))))


def _text(piece: bytes) -> pl.Series:
    return pl.Series([piece.decode("utf-8", "replace")], dtype=pl.String)


def _scan(path: Path, z: zipfile.ZipFile, member: str, label: str) -> SheetScan:
    with z.open(member) as fh:
        first = fh.read(1 << 16)
        patterns = _Patterns.of(first)
        dim = _DIMENSION.search(first)
        declared = None
        if dim and dim.group(3) and dim.group(4):
            declared = (int(dim.group(4)), col_number(dim.group(3)))
        elif dim and dim.group(1) and dim.group(2):
            declared = (int(dim.group(2)), col_number(dim.group(1)))
        if declared is None or declared[0] * declared[1] > MAX_SHEET_CELLS:
            # no dimension, or one too large to trust (calamine ignores it; a lying one must not refuse the file)
            return _scan_exact(path, z, member, label, patterns)
        # the cheap way: the declared rectangle fits; check that no filled cell lies beyond it
        outside = patterns.outside(*declared)
        errors: list[tuple[int, int, str]] = []
        for piece in _chunks(fh, first, patterns.cell_start):
            _errors_in(piece, patterns, errors)
            if _text(piece).str.contains(outside).item():
                # the dimension understates the sheet: measure the filled cells themselves, from the start
                return _scan_exact(path, z, member, label, patterns)
    return SheetScan(declared[0], declared[1], tuple(errors))


def _extent(piece: bytes, patterns: _Patterns, max_row: int, max_col: int) -> tuple[int, int]:
    tags = _text(piece).str.extract_all(patterns.cell_tag).explode().drop_nulls()
    refs = tags.filter(~tags.str.ends_with("/>")).str.extract_groups(_REF).struct.unnest()
    if refs.height:
        rows = refs["2"].cast(pl.Int64, strict=False).fill_null(0).max()
        # column letters compare as numbers once left-padded with "@" (the character before "A")
        letters = refs["1"].str.pad_start(8, "@").max()
        max_row = max(max_row, rows if isinstance(rows, int) else 0)
        max_col = max(max_col, col_number(str(letters).lstrip("@")))
    return max_row, max_col


def _scan_exact(path: Path, z: zipfile.ZipFile, member: str, label: str, patterns: _Patterns) -> SheetScan:
    errors: list[tuple[int, int, str]] = []
    max_row = max_col = 0
    with z.open(member) as fh:
        for piece in _chunks(fh, b"", patterns.cell_start):
            _errors_in(piece, patterns, errors)
            max_row, max_col = _extent(piece, patterns, max_row, max_col)
    _refuse_extent(path, label, max_row, max_col)
    return SheetScan(max_row, max_col, tuple(errors))


def _refuse_extent(path: Path, label: str, rows: int, columns: int) -> None:
    if rows * columns > MAX_SHEET_CELLS:
        raise _too_big(path, f"工作表 “{label}” 中有内容的范围达到 {rows} 行 × {columns} 列(最远的单元格 "
                             f"{col_letters(columns)}{rows}),超过能安全读取的 {MAX_SHEET_CELLS // 10_000} 万个单元格;"
                             "多半是远处误填了内容(在 Excel 中按 Ctrl+End 可找到它)")


_CACHE: OrderedDict[tuple, SheetScan] = OrderedDict()
_CACHE_LOCK = threading.Lock()  # the web server reads uploads in threads


def check_sheet(path: Path, sheet: SheetRef) -> SheetScan | None:
    """Refuse a workbook the reader could not read in bounded memory; the sheet's extent and error cells.

    Call `workbook_sheets` first (it checks the zip's sizes). None when the workbook does not say where the
    sheet's XML is (an .xlsb, an unusual writer): only the zip sizes were checked then."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, sheet.member)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    with _open(path) as z:
        names = set(z.namelist())
        try:
            if "xl/sharedStrings.xml" in names:
                size = z.getinfo("xl/sharedStrings.xml").file_size
                if size > MAX_SHARED_STRINGS_BYTES:
                    raise _too_big(path, f"共享字符串(xl/sharedStrings.xml)解压后有 {size >> 20} MB,"
                                         f"超过上限 {MAX_SHARED_STRINGS_BYTES >> 20} MB")
                _drain(z, "xl/sharedStrings.xml")
            _drain(z, "xl/styles.xml")
            if sheet.member is None or sheet.member not in names or not sheet.member.endswith(".xml"):
                return None
            scan = _scan(path, z, sheet.member, sheet.name)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise _damaged(path, exc) from exc
    scan = dataclasses.replace(scan, member=sheet.member)
    with _CACHE_LOCK:
        _CACHE[key] = scan
        while len(_CACHE) > 32:
            _CACHE.popitem(last=False)
    return scan


# ---- number cells -----------------------------------------------------------------------------------------

_TYPE = r'\st="([^"]*)"'


def number_cells(path: Path, member: str, columns: list[int]) -> pl.DataFrame:
    """The cells of `columns` (0-based) that the sheet XML stores as numbers: `row` (1-based) and `column`.

    A number cell is a `<c>` with a value and no type (or `t="n"`); text (`t="s"`, `inlineStr`, `str`), booleans,
    errors and ISO dates (`t="d"`) are not. A number styled as a date is a number here: the reader turns it into a
    date, and the caller tells those apart by their text. This replaces a second parse of the whole sheet for its
    cell types (issue 18): one more inflate of the sheet XML and a regex over the wanted columns only."""
    empty = pl.DataFrame(schema={"row": pl.Int64, "column": pl.Int64})
    if not columns:
        return empty
    letters = {col_letters(c + 1): c for c in sorted(set(columns))}
    found: list[pl.Series] = []
    with _open(path) as z:
        try:
            with z.open(member) as fh:
                first = fh.read(1 << 16)
                patterns = _Patterns.of(first)
                tag = patterns.cells_in("|".join(letters))
                for piece in _chunks(fh, first, patterns.cell_start):
                    tags = _text(piece).str.extract_all(tag).explode().drop_nulls()
                    if tags.len():
                        found.append(tags)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise _damaged(path, exc) from exc
    if not found:
        return empty
    cells = pl.concat(found).alias("tag").to_frame()
    typed = cells.filter(~pl.col("tag").str.ends_with("/>")).with_columns(
        pl.col("tag").str.extract(_TYPE, 1).alias("t"),
        pl.col("tag").str.extract_groups(_REF).alias("ref"))
    numbers = typed.filter(pl.col("t").is_null() | (pl.col("t") == "n")).unnest("ref")
    return numbers.select(pl.col("2").cast(pl.Int64).alias("row"),
                          pl.col("1").replace_strict(letters, return_dtype=pl.Int64).alias("column"))
