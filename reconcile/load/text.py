"""CSV text before it is parsed: its encoding decided, its line ends made plain, and records that cannot be read
taken out as markers the reader turns into quarantined rows (issue 16).

A national export is GB18030 with now and then a row typed elsewhere: one bad byte, a few rows pasted in as
UTF-8. Stopping the run at "第 N 字节" loses the county's whole check for one row; decoding with replacement
characters would load a garbled name as if it were data. Instead each such record is replaced, in the UTF-8 copy
the reader parses, by a marker line (MARKER and the record's number in `PreparedText.bad`): the reader finds
the marker at the row a person sees in Excel, reports the row and keeps it out of the data.

How a file is read, in one streaming pass over blocks of whole lines (DESIGN §13: ≈130 MB/s):

- the encoding: a BOM decides; else a file that is valid UTF-8 throughout is UTF-8 (checked in the same pass
  that would otherwise be needed anyway); else the lines with non-ASCII bytes vote (up to VOTE_LINES of them,
  wherever they are in the file): the encoding most of them decode in wins, UTF-8 or GB18030. A file whose
  lines mostly decode in neither is not text; one that decodes as GB18030 into characters GB2312 lacks
  (kana, box drawing, rare characters) but reads as Big5 is Big5 (繁体) and said so (refused: its names would
  match nothing in the mainland's records);
- a block that decodes strictly (and, for GB18030, has no line that is really UTF-8) is copied as is; only a
  block with a problem is taken apart into records (lines joined while a quoted cell is open) and each
  record judged alone;
- line ends: old Mac files end lines with CR alone — polars would see one line and load nothing — so a
  lone CR becomes LF (inside a quoted cell too: it is a line break there as well).

The file itself is read when it is UTF-8 with no problem; otherwise a UTF-8 copy is written under `work_dir`
and removed when the reading ends.
"""

from __future__ import annotations

import codecs
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .encoding import canonical_encoding, transcode_to_utf8

MARKER = "\ue5e5\ue5e6"  # private-use characters: no export writes them; a line of MARKER + n is bad record n
VOTE_LINES = 2000
_CHUNK = 4 << 20
# a share of bad records above which the file is refused rather than read with holes in it
REFUSE_SHARE = 0.2
REFUSE_MIN = 5

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_LONE_CR = re.compile(rb"\r(?!\n)")
_HIGH_LINE = re.compile(rb"(?m)^[^\n]*?[\x80-\xff][^\n]*+")
# UTF-8 rows in a GB18030 file. A CJK character in UTF-8 is a lead byte and two continuation bytes (0x80–0xBF),
# about half of which fall in 0x80–0xA0 — bytes GB2312 text never holds (its bytes are 0xA1–0xFE) and GBK text
# only in its rare characters. So only lines with such a byte are judged, each by decoding it: a whole-file
# regex for "a line that is valid UTF-8" runs at ~35 MB/s in Python's engine, this at the speed of a byte search.
_LOW_HIGH = bytes(range(0x80, 0xA1))
_LOW_HIGH_RX = re.compile(b"[\x80-\xa0]")
_CJK = re.compile("[\u3000-\u9fff\uf900-\ufaff]")


def _is_utf8_cjk(line: bytes) -> str | None:
    """The line's text when it is well-formed UTF-8 with a CJK character in it."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if _CJK.search(text) else None


def _has_utf8_rows(block: bytes) -> bool:
    if len(block.translate(None, _LOW_HIGH)) == len(block):
        return False
    pos = 0
    while (m := _LOW_HIGH_RX.search(block, pos)) is not None:
        start = block.rfind(b"\n", 0, m.start()) + 1
        end = block.find(b"\n", m.start())
        end = len(block) if end < 0 else end
        if _is_utf8_cjk(block[start:end]) is not None:
            return True
        pos = end + 1
    return False


@dataclass(frozen=True)
class BadRecord:
    problem: str  # row_undecodable / row_other_encoding
    text: str  # the record as a person may see it (bytes that decode in nothing shown as \xNN)
    detail: str  # the encoding it is really in, or the first bad byte (0xFF)
    prefix: str | None  # for row_undecodable: the record's text before its first bad byte (gives the column)
    offset: int  # byte offset of the record in the file


@dataclass(frozen=True)
class PreparedText:
    path: Path  # UTF-8 text, LF or CRLF line ends: the file itself, or a copy
    encoding: str  # the file's own encoding
    bad: list[BadRecord]
    lines: int  # line ends in the file (for the share of bad records)
    quoted: bool = True  # the file has a double quote somewhere (without one, no cell can hide a line break)


def _bom(head: bytes) -> str | None:
    return next((name for bom, name in _BOMS if head.startswith(bom)), None)


_WIDE = re.compile("[\u2e80-\U0010ffff]+")


def _gb2312_share(text: str) -> tuple[int, float]:
    """How many CJK-range characters the text has and the share of them in GB2312 (mainland text: > 0.95)."""
    wide = "".join(_WIDE.findall(text))
    if not wide:
        return 0, 1.0
    outside = wide.encode("gb2312", errors="replace").count(b"?")  # each character GB2312 lacks becomes one "?"
    return len(wide), 1 - outside / len(wide)


def _looks_big5(lines: list[bytes]) -> bool:
    """GB18030 decodes Big5 bytes without error, into kana, box drawing and rare characters."""
    sample = b"\n".join(lines)
    count, share = _gb2312_share(sample.decode("gb18030", "replace"))
    if count < 20 or share >= 0.75:
        return False
    try:
        text = sample.decode("big5")
    except UnicodeDecodeError:
        return False
    b5_count, _ = _gb2312_share(text)
    return b5_count >= count * 0.5


def _vote(path: Path) -> tuple[str, list[bytes]]:
    """UTF-8 or GB18030 by the lines with non-ASCII bytes; also the lines that voted (for the Big5 check)."""
    utf8 = gb = neither = 0
    voters: list[bytes] = []
    with path.open("rb") as fh:
        tail = b""
        while len(voters) < VOTE_LINES:
            data = fh.read(_CHUNK)
            if not data and not tail:
                break
            block = tail + data
            cut = block.rfind(b"\n") + 1 if data else len(block)
            block, tail = block[:cut], block[cut:]
            for m in _HIGH_LINE.finditer(block):
                if len(voters) >= VOTE_LINES:
                    break
                line = m.group()
                voters.append(line)
                if _decodes(line, "utf-8"):
                    utf8 += 1
                elif _decodes(line, "gb18030"):
                    gb += 1
                else:
                    neither += 1
            if not data:
                break
    if neither > (utf8 + gb) and neither >= REFUSE_MIN:
        raise InputError(f"文件 {path} 不是文本(CSV)文件,或编码无法识别:有非中英文字符的 {len(voters)} 行中,"
                         f"{neither} 行既不是 UTF-8 也不是 GB18030。请在 Excel/WPS 中打开核对后另存为“CSV UTF-8”。")
    return ("utf-8" if utf8 >= gb else "gb18030"), voters


def decide_encoding(path: Path) -> tuple[str, bool]:
    """The encoding of a text file, and whether it is UTF-8 (or BOM'd UTF-8) with nothing to repair (valid
    throughout, no lone CR): then the file itself can be parsed."""
    return _decide(Path(path))[:2]


def _decide(path: Path) -> tuple[str, bool, bool]:
    """`decide_encoding`, and whether a clean file has a double quote in it."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise InputError(f"无法打开文件 {path}:{exc.strerror or exc}") from exc
    bom = _bom(head)
    if bom == "utf-16":
        return bom, False, True
    clean, quoted = _utf8_clean(path)
    if bom:
        return bom, clean, quoted
    if clean:
        return "utf-8", True, quoted
    encoding, voters = _vote(path)
    if encoding == "gb18030" and _looks_big5(voters):
        raise _big5(path)
    return encoding, False, True


def detect_encoding(path: Path) -> str:
    """The encoding a text file is read in: "utf-8-sig", "utf-8", "utf-16", "gb18030" (see `decide_encoding`).
    A few rows in another encoding or with a bad byte do not change it: the reader quarantines them."""
    return decide_encoding(Path(path))[0]


def _big5(path: Path, configured: str | None = None) -> InputError:
    said = f"配置的编码是 {configured},但" if configured else ""
    return InputError(f"文件 {path} {said}看起来是繁体中文 Big5 编码(按简体 GBK/GB18030 读出来是乱码)。"
                      "请在 Excel/WPS 中打开后另存为“CSV UTF-8”;确实要按 Big5 读取,请在配置中写 encoding: big5。")


def _utf8_clean(path: Path) -> tuple[bool, bool]:
    """Valid UTF-8 throughout (a BOM allowed) with no lone CR line end; and whether it has a double quote."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    after_cr = False  # the previous read ended with a CR: the next must start with LF
    quoted = False
    with path.open("rb") as fh:
        while True:
            data = fh.read(_CHUNK)
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError:
                return False, True
            if not data:
                return not after_cr, quoted
            if after_cr and not data.startswith(b"\n"):
                return False, True
            lone = _LONE_CR.search(data) if b"\r" in data else None
            if lone is not None and lone.start() != len(data) - 1:  # a CR at the very end may be a split CR LF
                return False, True
            after_cr = data.endswith(b"\r")
            quoted = quoted or b'"' in data


# ---- the pass that writes the copy ---------------------------------------------------------------------------


class _Writer:
    """Decodes blocks of whole lines into the UTF-8 copy; records what cannot be read."""

    def __init__(self, encoding: str, out, bad: list[BadRecord]):
        self.encoding = encoding
        self.out = out
        self.bad = bad
        self.gb = encoding == "gb18030"
        self.utf8 = encoding in ("utf-8", "utf-8-sig")
        self.in_quote = False  # a quoted cell left open by the blocks before (its line breaks are inside it)
        self.first = True

    def block(self, block: bytes, offset: int) -> None:
        encoding = self.encoding
        if self.first:
            self.first = False
            if self.utf8 and block.startswith(codecs.BOM_UTF8):
                block, offset = block[3:], offset + 3
        try:
            text = block.decode("utf-8" if self.utf8 else encoding)
            ok = not (self.gb and _has_utf8_rows(block))
        except UnicodeDecodeError:
            ok = False
        quotes = block.count(b'"')
        if ok:
            self.out.write(text)
        else:
            self._records(block, offset)
        if quotes % 2:
            self.in_quote = not self.in_quote

    def _records(self, block: bytes, offset: int) -> None:
        """A block with a problem, record by record (a record's lines are joined while a quote is open)."""
        lines = block.split(b"\n")
        ends_with_newline = block.endswith(b"\n")
        if ends_with_newline:
            lines.pop()
        inside = self.in_quote
        record: list[bytes] = []
        start = offset
        pos = offset
        for k, line in enumerate(lines):
            record.append(line)
            pos += len(line) + 1
            if line.count(b'"') % 2:
                inside = not inside
            last = k == len(lines) - 1
            if not inside or last:
                self._record(b"\n".join(record), start, newline=not last or ends_with_newline)
                record, start = [], pos

    def _record(self, raw: bytes, offset: int, newline: bool) -> None:
        end = "\n" if newline else ""
        encoding = "utf-8" if self.utf8 else self.encoding
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            other = _other_encoding(raw, self.utf8, self.gb)
            if other is not None:
                self._mark(BadRecord("row_other_encoding", other[1].rstrip("\r"), other[0], None, offset), end)
                return
            prefix = raw[: exc.start].decode(encoding, "replace")
            shown = raw.decode(encoding, "backslashreplace").rstrip("\r")
            self._mark(BadRecord("row_undecodable", shown, f"0x{raw[exc.start]:02X}", prefix, offset + exc.start), end)
            return
        utf8_text = _is_utf8_cjk(raw) if self.gb and _has_utf8_rows(raw) else None
        if utf8_text is not None:
            self._mark(BadRecord("row_other_encoding", utf8_text.rstrip("\r"), "UTF-8", None, offset), end)
            return
        self.out.write(text + end)

    def _mark(self, bad: BadRecord, end: str) -> None:
        self.out.write(f"{MARKER}{len(self.bad)}{end or chr(10)}")
        self.bad.append(bad)


def _other_encoding(raw: bytes, utf8: bool, gb: bool) -> tuple[str, str] | None:
    """(encoding, text) when a record that fails the file's encoding reads cleanly in the other common one."""
    candidates = [("GB18030", "gb18030")] if utf8 else [("UTF-8", "utf-8")] if gb else []
    for label, name in candidates:
        try:
            text = raw.decode(name)
        except UnicodeDecodeError:
            continue
        if label == "GB18030" and _gb2312_share(text)[1] < 0.75:
            continue  # bytes that only happen to decode: garbage, not a GBK row
        return label, text
    return None


def _convert(path: Path, encoding: str, dest: Path) -> tuple[list[BadRecord], int]:
    bad: list[BadRecord] = []
    lines = 0
    with path.open("rb") as src, dest.open("w", encoding="utf-8", newline="") as out:
        writer = _Writer(encoding, out, bad)
        pending = b""
        offset = 0
        while True:
            data = src.read(_CHUNK)
            buf = pending + data
            hold = b""
            if data and buf.endswith(b"\r"):
                buf, hold = buf[:-1], b"\r"  # a CR LF may be split between two reads
            if b"\r" in buf:
                buf = _LONE_CR.sub(b"\n", buf)  # old Mac line ends (the same length: offsets stay true)
            if data:
                cut = buf.rfind(b"\n") + 1
                if cut == 0 and len(buf) < (64 << 20):
                    pending = buf + hold
                    continue
                cut = cut or len(buf)
                block, pending = buf[:cut], buf[cut:] + hold
            else:
                block, pending = buf + hold, b""
            if block:
                lines += block.count(b"\n")
                writer.block(block, offset)
                offset += len(block)
            if not data:
                break
    return bad, lines


@contextmanager
def prepared_text(path: Path, encoding: str = "auto", work_dir: Path | None = None) -> Iterator[PreparedText]:
    """The file as UTF-8 text the CSV reader can parse, with the records it could not read (see module doc)."""
    path = Path(path)
    if encoding == "auto":
        enc, clean, quoted = _decide(path)
    else:
        enc = canonical_encoding(encoding)
        clean, quoted = _utf8_clean(path) if enc in ("utf-8", "utf-8-sig") else (False, True)
        if enc == "gb18030":
            _check_not_big5(path, encoding)
    if clean:
        yield PreparedText(path, enc, [], 0, quoted)
        return
    tmp = Path(tempfile.mkdtemp(prefix="reconcile-", dir=work_dir))
    try:
        dest = tmp / (path.stem + ".utf8.csv")
        if enc == "utf-16":  # Excel's "Unicode 文本": decoded strictly, a bad byte stops the read with its offset
            transcode_to_utf8(path, enc, dest)
            yield PreparedText(dest, enc, [], 0)
            return
        try:
            bad, lines = _convert(path, enc, dest)
        except OSError as exc:
            raise InputError(f"转换文件 {path} 的编码时出错:{exc.strerror or exc}") from exc
        total = max(lines, 1)
        if len(bad) > REFUSE_SHARE * total and (len(bad) >= REFUSE_MIN or 2 * len(bad) > total):
            raise InputError(f"文件 {path} 有 {len(bad)} 行(共约 {lines} 行)无法按 {enc} 读取,不像是这种编码的文本文件。"
                             "请在 Excel/WPS 中打开核对后另存为“CSV UTF-8”,或在配置中指定正确的 encoding:")
        yield PreparedText(dest, enc, bad, lines, quoted=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_not_big5(path: Path, configured: str) -> None:
    with path.open("rb") as fh:
        head = fh.read(1 << 20)
    lines = [m.group() for m in _HIGH_LINE.finditer(head)][:VOTE_LINES]
    if lines and _looks_big5(lines):
        raise _big5(path, configured)


def head_text(head: bytes, encoding: str, path: Path) -> tuple[str, str]:
    """The first bytes of a file as text and the encoding they were read in, for the header peek (no full pass):
    the same vote as `decide_encoding`, on the lines the head holds; Big5 refused as there."""
    bom = _bom(head)
    whole_lines = head[: head.rfind(b"\n") + 1] or head  # the last line may be cut inside a character
    if encoding != "auto":
        enc = canonical_encoding(encoding)
    elif bom:
        enc = bom
    else:
        lines = [m.group() for m in _HIGH_LINE.finditer(whole_lines)][:VOTE_LINES]
        utf8 = sum(1 for line in lines if _decodes(line, "utf-8"))
        enc = "utf-8" if utf8 * 2 >= len(lines) else "gb18030"
    if enc == "gb18030":
        lines = [m.group() for m in _HIGH_LINE.finditer(whole_lines)][:VOTE_LINES]
        if lines and _looks_big5(lines):
            raise _big5(path, None if encoding == "auto" else encoding)
    text = head.decode(enc, errors="ignore")
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")
    return text, enc


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False
