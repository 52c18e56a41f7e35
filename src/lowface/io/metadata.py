"""What a photo keeps on the way out besides its pixels: its EXIF block, its XMP packet (keywords, captions, ratings,
rights) and a JPEG's IPTC-IIM records, each made true of the output.

EXIF: the orientation is applied to the pixels on read and reset to 1, and a TIFF's layout tags (its own strips) are
left out. XMP: its orientation is reset likewise, and what it says about data the output does not carry is removed -
a Google motion photo's video (``GCamera:MotionPhoto*``, ``GCamera:MicroVideo*``), an Ultra HDR or Adobe gain map
(``hdrgm:``) and the container directory that lists such parts (``Container:Directory``), which a gallery would
otherwise look for after the last byte of the new file, and a thumbnail of the input (``xmp:Thumbnails``, which a
browser would show dark). (The EXIF block's thumbnail is not kept either: Pillow writes no IFD1.) These are found by
the prefixes that Google's and Adobe's writers give them.
"""

from __future__ import annotations

import re

from PIL import Image

ORIENTATION_TAG = 0x0112
XMP_TAG = 700  # a TIFF's XMP packet (kept as XMP, not inside the EXIF block)
# TIFF tags that describe a file's layout (size, strips, compression, ...), its ICC profile and its XMP (kept
# separately)
TIFF_LAYOUT_TAGS = frozenset({254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 280, 281, 284, 292, 293,
                              317, 320, 322, 323, 324, 325, 338, 339, 34675, XMP_TAG})  # fmt: skip

_XMP_ORIENTATION = (re.compile(r"""(tiff:Orientation\s*=\s*["'])\s*\d\s*(["'])"""),
                    re.compile(r"(<tiff:Orientation>)\s*\d\s*(</tiff:Orientation>)"))  # fmt: skip
_GONE = r"(?:GCamera:(?:MotionPhoto|MicroVideo)\w*|hdrgm:\w+|Container:Directory|xmp:Thumbnails)"
_XMP_GONE = (re.compile(rf"""\s+{_GONE}\s*=\s*(?:"[^"]*"|'[^']*')"""),  # attributes
             re.compile(rf"<({_GONE})\b[^>]*/>"),  # empty elements
             re.compile(rf"<({_GONE})\b[^>]*>.*?</\1\s*>", re.DOTALL))  # elements  # fmt: skip


def read_exif(header: Image.Image) -> tuple[int, bytes | None]:
    """(EXIF orientation 1..8, the EXIF block with orientation reset to 1, or None when there is none)."""
    try:
        found = header.getexif()
        orientation = int(found.get(ORIENTATION_TAG, 1))
        if not found:
            return orientation, None
        exif = Image.Exif()  # a copy: a TIFF's own EXIF object is its tags, which the decoder still needs
        exif.load(found.tobytes())
        for tag in TIFF_LAYOUT_TAGS & set(exif):  # a TIFF's layout tags describe its own strips, not ours
            del exif[tag]
        if ORIENTATION_TAG in exif:
            exif[ORIENTATION_TAG] = 1  # the pixels are turned on read: a viewer must not turn them again
        return orientation, exif.tobytes()
    except Exception:  # a broken EXIF block must not make a readable image unreadable; it is dropped
        return 1, None


def read_xmp(header: Image.Image) -> bytes | None:
    """An opened image file's XMP packet (JPEG, PNG, WebP, TIFF, HEIC, AVIF) made true of the output (see the module
    docstring), or None when it has none or it is not UTF-8 text."""
    found = header.info.get("xmp")
    if isinstance(found, str):
        found = found.encode()
    if not found:
        return None
    try:
        text = found.decode("utf-8")
    except UnicodeDecodeError:
        return None
    for pattern in _XMP_ORIENTATION:
        text = pattern.sub(r"\g<1>1\g<2>", text)
    for pattern in _XMP_GONE:
        text = pattern.sub("", text)
    return text.encode("utf-8")


PHOTOSHOP = b"Photoshop 3.0\0"  # a JPEG's APP13 segment: Photoshop's image resources (IRB)
IPTC_RESOURCE = 0x0404  # the IPTC-IIM records among them (a news photo's caption, byline, keywords)


def read_iptc(header: Image.Image) -> bytes | None:
    """A JPEG's IPTC-IIM records (from its APP13 segment), or None. Only those: the segment's other resources (a
    thumbnail of the dark input, Photoshop's own settings and a digest of the old records) are left behind."""
    for marker, payload in getattr(header, "applist", []):
        if marker == "APP13" and payload.startswith(PHOTOSHOP):
            return _photoshop_resources(payload[len(PHOTOSHOP) :]).get(IPTC_RESOURCE)
    return None


def _photoshop_resources(data: bytes) -> dict[int, bytes]:
    """Photoshop image resources ('8BIM', id, padded Pascal name, size, padded data) by id; a broken tail ignored."""
    found, at = {}, 0
    while at + 12 <= len(data) and data[at : at + 4] == b"8BIM":
        kind = int.from_bytes(data[at + 4 : at + 6], "big")
        name = data[at + 6] + 1
        at += 6 + name + (name & 1)
        size = int.from_bytes(data[at : at + 4], "big")
        found[kind] = data[at + 4 : at + 4 + size]
        at += 4 + size + (size & 1)
    return found


def with_iptc(jpeg: bytes, iptc: bytes) -> bytes:
    """``jpeg`` with an APP13 segment holding ``iptc`` (IPTC-IIM records) after its other APPn segments."""
    resource = b"8BIM" + IPTC_RESOURCE.to_bytes(2, "big") + b"\0\0" + len(iptc).to_bytes(4, "big") + iptc
    payload = PHOTOSHOP + resource + b"\0" * (len(iptc) & 1)
    at = 2  # after SOI
    while jpeg[at] == 0xFF and 0xE0 <= jpeg[at + 1] <= 0xEF:
        at += 2 + int.from_bytes(jpeg[at + 2 : at + 4], "big")
    return jpeg[:at] + b"\xff\xed" + (2 + len(payload)).to_bytes(2, "big") + payload + jpeg[at:]


def png_text_chunk(keyword: str, text: bytes) -> bytes:
    """An iTXt chunk's payload (uncompressed, no language): how PNG holds XMP (keyword "XML:com.adobe.xmp")."""
    return keyword.encode("latin-1") + b"\0\0\0\0\0" + text
