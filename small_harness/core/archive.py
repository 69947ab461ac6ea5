"""Reads the member files of a Unix `ar` archive (static library), GNU and BSD name styles.

Format: the magic "!<arch>\\n", then per member a 60-byte header (name 16, mtime 12, uid 6,
gid 6, mode 8, size 10, terminator "`\\n") and the data, padded to an even offset.
"""

from __future__ import annotations

from small_harness.core.errors import HarnessError

AR_MAGIC = b"!<arch>\n"
THIN_AR_MAGIC = b"!<thin>\n"
HEADER_SIZE = 60
HEADER_TERMINATOR = b"`\n"
# GNU index members: the symbol table ("/" or "/SYM64/") and the long-name table ("//").
SYMBOL_TABLES = ("/", "/SYM64/")
LONG_NAMES = "//"
BSD_LONG_NAME_PREFIX = "#1/"  # "#1/<length>": the name is the first <length> bytes of the data
BSD_SYMBOL_TABLES = ("__.SYMDEF", "__.SYMDEF SORTED")


def is_archive(data: bytes) -> bool:
    return data.startswith(AR_MAGIC) or data.startswith(THIN_AR_MAGIC)


def read_archive_members(data: bytes, display_name: str) -> list[tuple[str, bytes]]:
    """(name, contents) of each regular member, in archive order; index members are skipped."""
    if data.startswith(THIN_AR_MAGIC):
        raise HarnessError(f"{display_name}: thin archive (members are outside it); cannot check it")
    if not data.startswith(AR_MAGIC):
        raise HarnessError(f"{display_name}: not an ar archive")

    members: list[tuple[str, bytes]] = []
    long_names = b""
    offset = len(AR_MAGIC)
    while offset < len(data):
        header = data[offset : offset + HEADER_SIZE]
        if len(header) < HEADER_SIZE or header[58:60] != HEADER_TERMINATOR:
            raise HarnessError(f"{display_name}: corrupt ar member header at offset {offset}")
        raw_name = header[0:16].decode("ascii", errors="replace").rstrip(" ")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise HarnessError(f"{display_name}: corrupt ar member size at offset {offset}") from None
        body_start = offset + HEADER_SIZE
        body = data[body_start : body_start + size]
        if len(body) != size:
            raise HarnessError(f"{display_name}: truncated ar member at offset {offset}")
        offset = body_start + size + (size % 2)  # members start at even offsets

        if raw_name in SYMBOL_TABLES:
            continue
        if raw_name == LONG_NAMES:
            long_names = body
            continue
        if raw_name.startswith(BSD_LONG_NAME_PREFIX):
            name_length = int(raw_name[len(BSD_LONG_NAME_PREFIX) :])
            name = body[:name_length].decode("utf-8", errors="replace").rstrip("\0")
            body = body[name_length:]
            if name in BSD_SYMBOL_TABLES:
                continue
        elif raw_name.startswith("/") and raw_name[1:].isdigit():
            # GNU long name: an offset into the "//" table, where names end with "/\n".
            start = int(raw_name[1:])
            end = long_names.find(b"/\n", start)
            name = long_names[start : end if end >= 0 else len(long_names)].decode("utf-8", errors="replace")
        else:
            name = raw_name.removesuffix("/")  # GNU short names end with "/"
        members.append((name, body))
    return members
