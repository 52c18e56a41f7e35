"""XMP (keywords, captions, ratings) kept on the way out in every format that holds it, made true of the output."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from lowface.io import ImageData, read_image, write_image
from samples import FORMATS, PHONE_XMP, photo_with_xmp


def test_the_xmp_is_made_true_of_the_output():
    """Keywords and rating kept; the orientation (applied to the pixels on read) reset to 1; a motion photo's video,
    a gain map and the directory of such trailing parts - none of which the output carries - no longer claimed; the
    input's thumbnail gone."""
    from lowface.io.metadata import read_xmp

    header = Image.new("RGB", (8, 8))
    header.info["xmp"] = PHONE_XMP
    kept = read_xmp(header).decode()
    assert "<rdf:li>night</rdf:li><rdf:li>street</rdf:li>" in kept and 'xmp:Rating="4"' in kept
    assert 'tiff:Orientation="1"' in kept
    for gone in ("GCamera:MotionPhoto", "hdrgm:Version", "Container:Directory", "Container:Item", "xmp:Thumbnails"):
        assert gone not in kept, gone
    assert kept.startswith("<?xpacket") and kept.endswith('<?xpacket end="w"?>')
    header.info["xmp"] = "<x:xmpmeta><tiff:Orientation>8</tiff:Orientation></x:xmpmeta>"  # (the element form)
    assert read_xmp(header) == b"<x:xmpmeta><tiff:Orientation>1</tiff:Orientation></x:xmpmeta>"


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_xmp_survives_a_round_trip_in_every_format_that_holds_it(tmp_path: Path, suffix: str):
    data = read_image(photo_with_xmp(tmp_path / f"in{suffix}"))
    assert data.xmp is not None and b"<rdf:li>night</rdf:li>" in data.xmp
    write_image(tmp_path / f"out{suffix}", data)
    assert b"<rdf:li>night</rdf:li>" in read_image(tmp_path / f"out{suffix}").xmp
    if suffix in (".png", ".heic"):  # the deep writers: 16-bit PNG (its own chunks) and 10-bit HEIC
        deep = ImageData(data.rgb, bit_depth=16, xmp=data.xmp)
        write_image(tmp_path / f"deep{suffix}", deep)
        written = read_image(tmp_path / f"deep{suffix}")
        assert written.bit_depth == 16 and b"<rdf:li>night</rdf:li>" in written.xmp


def test_a_jpegs_iptc_records_are_kept_and_its_other_photoshop_resources_are_not(tmp_path: Path):
    """A news photo's caption and keyword (IPTC-IIM, in the JPEG's APP13 segment) are kept when it is written as a
    JPEG; the segment's thumbnail of the dark input is not."""
    from PIL import IptcImagePlugin

    iptc = b"\x1c\x02\x78\x00\x0cnight street" + b"\x1c\x02\x19\x00\x05night"  # caption, keyword: 27 bytes (odd)
    resources = b"8BIM\x04\x04\x00\x00" + len(iptc).to_bytes(4, "big") + iptc + b"\0"
    resources += b"8BIM\x04\x0c\x00\x00" + (6).to_bytes(4, "big") + b"THUMB!"
    segment = b"Photoshop 3.0\0" + resources
    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (32, 24), (20, 20, 20)).save(plain, exif=Image.Exif().tobytes())
    jpeg = plain.read_bytes()
    source = tmp_path / "news.jpg"
    source.write_bytes(jpeg[:2] + b"\xff\xed" + (2 + len(segment)).to_bytes(2, "big") + segment + jpeg[2:])
    data = read_image(source)
    assert data.iptc == iptc
    write_image(tmp_path / "out.jpg", data)
    written = Image.open(tmp_path / "out.jpg")
    assert IptcImagePlugin.getiptcinfo(written) == {(2, 120): b"night street", (2, 25): b"night"}
    assert b"THUMB!" not in (tmp_path / "out.jpg").read_bytes()
