"""Text-file encodings: names, detection, strict transcoding to UTF-8 (DESIGN §13).

DuckDB cannot read GBK here and polars reads UTF-8 only, so every text file is checked in one
streaming pass and, when it is not UTF-8, rewritten as UTF-8 before it is parsed (reconcile.load.text,
which also sets aside rows that do not decode). GB18030 is used instead of GBK because it is a superset:
rare name characters (𠀀, 䶮) are outside GBK, and a GBK decoder would reject or garble exactly the
names that matter most.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from reconcile.errors import InputError

_CHUNK = 4 << 20  # a few MB: large enough to run at codec speed, small enough to stream any file

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
