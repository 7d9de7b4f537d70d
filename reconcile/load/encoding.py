"""Text-file encodings: detect UTF-8 / UTF-8-BOM / GB18030 and transcode to UTF-8 (DESIGN §13).

DuckDB cannot read GBK here and polars reads UTF-8 only, so every text file is checked in one
streaming pass and, when it is not UTF-8, rewritten as UTF-8 before it is parsed. GB18030 is used
instead of GBK because it is a superset: rare name characters (𠀀, 䶮) are outside GBK, and a GBK
decoder would reject or garble exactly the names that matter most.
"""

from __future__ import annotations

import codecs
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconcile.errors import InputError

_CHUNK = 4 << 20  # a few MB: large enough to run at codec speed, small enough to stream any file

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    # Excel's "Unicode 文本" export is UTF-16LE with a BOM; cheap to accept, common in county offices.
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Names people put in configs for encodings that GB18030 decodes identically (it is their superset).
_GB_ALIASES = {"gbk", "gb2312", "cp936", "gb18030", "936", "ms936", "euccn"}


def canonical_encoding(name: str) -> str:
    """Normalise a configured encoding name; GBK-family names become gb18030 (a strict superset)."""
    key = name.strip().lower().replace("_", "-")
    if key.replace("-", "") in _GB_ALIASES:
        return "gb18030"
    if key in {"utf8", "utf-8"}:
        return "utf-8"
    if key in {"utf8-sig", "utf-8-sig", "utf-8-bom", "utf8-bom"}:
        return "utf-8-sig"
    try:
        return codecs.lookup(key).name
    except LookupError as exc:
        raise InputError(f"未知的文本编码 {name!r}。可用:auto、utf-8、utf-8-sig、gb18030 等。") from exc


def _first_error(path: Path, encoding: str, chunk: int) -> tuple[int, int] | None:
    """Byte offset and byte value of the first undecodable byte, or None when the file decodes.

    The whole file is decoded in a streaming pass: a sample would miss a GBK byte late in a file
    that starts with pure ASCII (IDs and numbers), which is exactly how national exports look.
    """
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    pos = 0
    with path.open("rb") as fh:
        while True:
            data = fh.read(chunk)
            final = not data
            # Bytes held back from the previous chunk (an incomplete sequence) are part of the
            # error's object, so the offset must be computed from where they started.
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(data, final)
            except UnicodeDecodeError as exc:
                offset = pos - pending + exc.start
                return offset, exc.object[exc.start]
            if final:
                return None
            pos += len(data)


def detect_encoding(path: Path, sample_bytes: int = 1 << 20) -> str:
    """Return "utf-8-sig", "utf-8", "utf-16" or "gb18030" for a text file, checking every byte.

    `sample_bytes` is the read size of the streaming pass, not a limit: the whole file is checked.
    Raises InputError naming the file and the byte offset where neither UTF-8 nor GB18030 decodes.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise InputError(f"无法打开文件 {path}:{exc.strerror or exc}") from exc
    for bom, name in _BOMS:
        if head.startswith(bom):
            bad = _first_error(path, name, max(sample_bytes, 1))
            if bad is None:
                return name
            raise _undecodable(path, name, *bad)
    chunk = max(sample_bytes, 1)
    utf8_bad = _first_error(path, "utf-8", chunk)
    if utf8_bad is None:
        return "utf-8"
    gb_bad = _first_error(path, "gb18030", chunk)
    if gb_bad is None:
        return "gb18030"
    # Report where the decoder that got further stopped: that encoding is most likely the file's
    # own, so its failure point is the real damage (a truncated or mixed-encoding file).
    offset, byte = max(utf8_bad, gb_bad)
    raise InputError(
        f"文件 {path} 无法识别编码:第 {offset} 字节(从 0 起算,0x{byte:02X})既不是 UTF-8 也不是 GB18030。"
        "请另存为 UTF-8 或在配置中指定 encoding:"
    )


def verify_encoding(path: Path, encoding: str, sample_bytes: int = 1 << 20) -> None:
    """Raise InputError with the byte offset if the whole file does not decode as `encoding`."""
    bad = _first_error(Path(path), canonical_encoding(encoding), max(sample_bytes, 1))
    if bad is not None:
        raise _undecodable(Path(path), encoding, *bad)


def _undecodable(path: Path, encoding: str, offset: int, byte: int) -> InputError:
    return InputError(
        f"文件 {path} 不能按 {encoding} 解码:第 {offset} 字节(从 0 起算,0x{byte:02X})无效。"
        "请检查文件是否损坏,或另存为 UTF-8 / 在配置中指定 encoding:"
    )


def transcode_to_utf8(path: Path, encoding: str, dest: Path) -> Path:
    """Rewrite a text file as UTF-8 (no BOM) in a streaming pass; returns `dest`.

    GBK-family names are decoded as GB18030. A byte that does not decode raises InputError with its
    offset instead of being replaced: a silently replaced character would corrupt a name or an ID.
    """
    path, dest = Path(path), Path(dest)
    encoding = canonical_encoding(encoding)
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    pos = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("rb") as src, dest.open("w", encoding="utf-8", newline="") as out:
            while True:
                data = src.read(_CHUNK)
                final = not data
                pending = len(decoder.getstate()[0])
                try:
                    out.write(decoder.decode(data, final))
                except UnicodeDecodeError as exc:
                    raise _undecodable(
                        path, encoding, pos - pending + exc.start, exc.object[exc.start]
                    ) from exc
                if final:
                    break
                pos += len(data)
    except OSError as exc:
        raise InputError(f"转换文件 {path} 的编码时出错:{exc.strerror or exc}") from exc
    except InputError:
        dest.unlink(missing_ok=True)
        raise
    return dest


@contextmanager
def utf8_source(path: Path, encoding: str, work_dir: Path | None = None) -> Iterator[Path]:
    """The file itself when it is UTF-8, else a temporary UTF-8 copy (under `work_dir`) removed
    when the block ends, so a county's worth of GBK exports does not pile up on disk."""
    if canonical_encoding(encoding) in ("utf-8", "utf-8-sig"):
        yield Path(path)
        return
    tmp = Path(tempfile.mkdtemp(prefix="reconcile-", dir=work_dir))
    try:
        yield transcode_to_utf8(path, encoding, tmp / (Path(path).stem + ".utf8.csv"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
