from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from fusecli.errors import ImageReadError, ImageWriteError, OutputExistsError
from fusecli.imaging import read_image, read_stack, write_image

from conftest import smooth_image

LOSSLESS = [
    ("png", 8, None), ("png", 8, 3), ("png", 8, 4), ("png", 16, None), ("png", 16, 3), ("png", 16, 4),
    ("tif", 8, None), ("tif", 8, 3), ("tif", 16, None), ("tif", 16, 3), ("tif", 16, 4),
    ("tif", 32, None), ("tif", 32, 3), ("bmp", 8, None), ("bmp", 8, 3), ("webp", 8, 3), ("webp", 8, 4),
]


@pytest.mark.parametrize("ext,depth,channels", LOSSLESS)
def test_lossless_round_trip(tmp_path, rng, ext, depth, channels):
    img = smooth_image(rng, 37, 53, channels)
    path = write_image(tmp_path / f"x.{ext}", img, bit_depth=depth)
    back, meta = read_image(path)
    assert back.dtype == np.float32 and back.shape == img.shape
    assert meta.bit_depth == depth and meta.channels == (channels or 1)
    tolerance = {8: 0.5 / 255, 16: 0.5 / 65535, 32: 1e-7}[depth]
    assert np.abs(back - img).max() <= tolerance + 1e-7


@pytest.mark.parametrize("channels", [None, 3])
def test_jpeg_round_trip_is_close(tmp_path, rng, channels):
    img = smooth_image(rng, 64, 80, channels)
    back, meta = read_image(write_image(tmp_path / "x.jpg", img, quality=98))
    assert back.shape == img.shape and meta.format == "jpeg" and meta.bit_depth == 8
    assert np.abs(back - img).mean() < 0.01


def test_channel_conversion(tmp_path, rng):
    img = smooth_image(rng, 20, 30, 4)
    path = write_image(tmp_path / "rgba.png", img)
    gray, _ = read_image(path, channels=1)
    rgb, _ = read_image(path, channels=3)
    assert gray.shape == (20, 30) and rgb.shape == (20, 30, 3)
    expected = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    assert np.allclose(gray, expected, atol=1e-6)
    g2, _ = read_image(write_image(tmp_path / "g.png", gray), channels=3)
    assert np.allclose(g2[..., 0], g2[..., 2])


def test_multipage_tiff_stack(tmp_path, rng):
    frames = [np.round(smooth_image(rng, 16, 24, 3) * 65535).astype(np.uint16) for _ in range(3)]
    path = tmp_path / "stack.tif"
    with tifffile.TiffWriter(path) as tw:
        for f in frames:
            tw.write(f, photometric="rgb")
    stack, meta = read_stack(path)
    assert len(stack) == 3 and meta.bit_depth == 16
    for got, want in zip(stack, frames):
        assert np.allclose(got, want / 65535.0, atol=1e-6)
    first, _ = read_image(path)
    assert np.allclose(first, stack[0])


def test_gray_alpha_tiff_is_one_gray_image_and_many_samples_a_clear_error(tmp_path, rng):
    gray = np.round(smooth_image(rng, 20, 30) * 65535).astype(np.uint16)
    path = tmp_path / "la.tif"
    tifffile.imwrite(path, np.dstack([gray, np.full_like(gray, 65535)]), photometric="minisblack",
                     extrasamples=["unassalpha"], planarconfig="contig")
    image, meta = read_image(path)  # was split into 20 "frames" of 30 x 2
    assert image.shape == (20, 30) and meta.channels == 1
    assert np.allclose(image, gray / 65535.0, atol=1e-6)
    five = tmp_path / "five.tif"
    tifffile.imwrite(five, np.zeros((20, 30, 5), np.uint16), photometric="minisblack", planarconfig="contig")
    with pytest.raises(ImageReadError, match=r"unsupported image layout \(20, 30, 5\)"):
        read_image(five)


def test_stored_integer_pixels_are_written_as_the_values_they_stand_for(tmp_path, rng):
    """fusecli's functions take uint8/uint16 frames as stored pixels (0..255 is 0..1); so does
    write_image: a uint8 array used to be taken as floats and saved nearly all white."""
    img = smooth_image(rng, 20, 30, 3)
    for dtype, peak, depth in ((np.uint8, 255, 8), (np.uint16, 65535, 16)):
        stored = np.round(img * peak).astype(dtype)
        back, meta = read_image(write_image(tmp_path / f"s{depth}.png", stored, bit_depth=depth))
        assert meta.bit_depth == depth and np.array_equal(np.round(back * peak).astype(dtype), stored)


def test_transparency_is_said_not_silently_fused(tmp_path, rng, caplog):
    """Fusion ignores alpha: an RGBA or gray + alpha file with transparent pixels is read with a
    warning that names the share, an opaque one silently."""
    logger = logging.getLogger("fusecli")
    logger.addHandler(caplog.handler)
    try:
        rgba = smooth_image(rng, 20, 40, 4)
        rgba[..., 3] = 1.0
        gray = np.round(smooth_image(rng, 20, 40) * 65535).astype(np.uint16)
        la = np.dstack([gray, np.full_like(gray, 65535)])
        for name, see_through in (("opaque.png", None), ("quarter.png", "25.0 %"), ("la.tif", "5.0 %")):
            if name == "quarter.png":
                rgba[:5, :, 3] = 0.0
            if name == "la.tif":
                la[:1, :, 1] = 100
                tifffile.imwrite(tmp_path / name, la, photometric="minisblack", extrasamples=["unassalpha"])
            else:
                write_image(tmp_path / name, rgba, bit_depth=8)
            caplog.clear()
            image, _ = read_image(tmp_path / name)
            warned = [r.getMessage() for r in caplog.records if "transparent" in r.getMessage()]
            if see_through is None:
                assert not warned and image.shape == (20, 40, 4)
            else:
                assert warned and see_through in warned[0] and name in warned[0]
    finally:
        logger.removeHandler(caplog.handler)


def test_tiffs_are_written_compact_and_read_by_other_tools(tmp_path, rng):
    """TIFF output is zlib with horizontal differencing for integer pixels (smaller and faster
    than plain zlib: bench/bench_tiff.py), none for float; libtiff (OpenCV) reads every one exactly."""
    import cv2

    image = smooth_image(rng, 48, 64, 3)
    for depth, predictor in ((8, 2), (16, 2), (32, 1)):
        path = write_image(tmp_path / f"d{depth}.tif", image, bit_depth=depth)
        page = tifffile.TiffFile(path).pages[0]
        assert (page.compression, page.predictor) == (8, predictor), depth  # 8: zlib (deflate)
        stored = tifffile.imread(path)
        decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1]
        np.testing.assert_array_equal(decoded, stored)
        back, _ = read_image(path)
        assert np.abs(back - image).max() <= {8: 0.5 / 255, 16: 0.5 / 65535, 32: 1e-7}[depth] + 1e-7
    photo = smooth_image(rng, 256, 384, 3)  # smooth shading, as in photos: differencing makes it compress
    for depth in (8, 16):
        stored = tifffile.imread(write_image(tmp_path / f"p{depth}.tif", photo, bit_depth=depth))
        tifffile.imwrite(tmp_path / "plain.tif", stored, photometric="rgb", compression="zlib")  # zlib's default level, no predictor
        assert (tmp_path / f"p{depth}.tif").stat().st_size < 0.97 * (tmp_path / "plain.tif").stat().st_size, depth  # measured: 0.84 (8-bit), 0.95 (16-bit)


@pytest.mark.parametrize("compression", [5, 32773, 7])  # LZW, PackBits, JPEG
def test_tiffs_compressed_by_other_tools_are_read(tmp_path, rng, compression):
    """LZW is what OpenCV, GIMP and many camera tools write; tifffile alone needs the optional
    imagecodecs package for it (and PackBits, JPEG), so fusecli falls back to OpenCV's libtiff."""
    import cv2

    lossless = compression != 7
    rgb = np.round(smooth_image(rng, 24, 40, 3) * 255).astype(np.uint8)
    arrays = [rgb] + ([np.round(smooth_image(rng, 24, 40) * 65535).astype(np.uint16), smooth_image(rng, 24, 40)] if lossless else [])
    for index, array in enumerate(arrays):
        path = tmp_path / f"c{index}.tif"
        ok, data = cv2.imencode(".tif", array[..., ::-1] if array.ndim == 3 else array, [cv2.IMWRITE_TIFF_COMPRESSION, compression])
        path.write_bytes(data.tobytes())
        assert ok and tifffile.TiffFile(path).pages[0].compression == compression
        image, meta = read_image(path)
        scale = {np.uint8: 255, np.uint16: 65535, np.float32: 1}[array.dtype.type]
        assert meta.bit_depth == array.dtype.itemsize * 8 and image.shape == array.shape  # RGB order, depth kept
        assert np.abs(image - array / scale).max() <= (1e-6 if lossless else 0.1)
    if lossless:  # every page of a multi-page one
        ok, data = cv2.imencodemulti(".tif", [rgb, rgb // 2], [cv2.IMWRITE_TIFF_COMPRESSION, compression])
        (tmp_path / "pages.tif").write_bytes(data.tobytes())
        stack, _ = read_stack(tmp_path / "pages.tif")
        assert len(stack) == 2 and np.allclose(stack[1] * 255, rgb[..., ::-1] // 2, atol=1e-3)
        second = tifffile.TiffFile(tmp_path / "pages.tif").pages[1].offset  # where page 2's directory starts
        (tmp_path / "cut.tif").write_bytes(data.tobytes()[:second])  # page 1 whole, page 2 lost
        with pytest.raises(ImageReadError, match="cut.tif: TIFF is truncated or damaged after page 1"):
            read_stack(tmp_path / "cut.tif")  # was: a one-frame "stack", a logged line at most
        (tmp_path / "cut.tif").write_bytes(data.tobytes()[:second // 4])
        with pytest.raises(ImageReadError, match="cut.tif: "):
            read_image(tmp_path / "cut.tif")


def test_tiff_damage_reports_stay_with_the_thread_that_read_the_file():
    """Files are read in threads (fusecli.fusion.read_frames): tifffile's report of another file's
    damage must not make this file an error."""
    import threading

    from fusecli.imaging.read import _tifffile_messages

    logger = logging.getLogger("tifffile")
    with _tifffile_messages() as messages:
        other = threading.Thread(target=logger.error, args=("<TiffPages @8> invalid page offset 99",))
        other.start()
        other.join()
        assert messages == []
        logger.error("mine")
    assert messages == ["mine"]


def test_skimage_multipage_tiff():
    import skimage.data

    path = Path(skimage.data.__file__).parent / "multipage.tif"
    stack, _ = read_stack(path)
    assert len(stack) == 2 and stack[0].shape == stack[1].shape


def test_float_tiff_outside_unit_range_is_rescaled(tmp_path):
    temps = np.linspace(-20.0, 45.0, 12 * 10, dtype=np.float32).reshape(12, 10)
    tifffile.imwrite(tmp_path / "t.tif", temps)
    img, meta = read_image(tmp_path / "t.tif")
    assert meta.bit_depth == 32 and meta.value_range == (-20.0, 45.0)
    assert img.min() == 0.0 and abs(img.max() - 1.0) < 1e-6


def test_integer_measurements_are_rescaled_from_their_range(tmp_path, rng):
    """Signed and 32-bit integer TIFFs hold measurements (IR counts, centi-degrees), not display
    values: a signed frame used to come out as flat gray about 0.5, a 32-bit one as black."""
    ramp = np.linspace(0.0, 1.0, 12 * 10).reshape(12, 10)
    for dtype, lo, hi in ((np.int16, -1200, 3400), (np.int32, 10, 250_000), (np.uint32, 27_000, 31_000), (np.int8, -5, 90)):
        tifffile.imwrite(tmp_path / "m.tif", np.round(lo + ramp * (hi - lo)).astype(dtype))
        img, meta = read_image(tmp_path / "m.tif")
        assert meta.value_range == (lo, hi)
        assert img.min() == 0.0 and img.max() == 1.0 and np.abs(img - ramp).max() < 1.0 / (hi - lo)


def test_tiff_layouts_are_read_as_they_display(tmp_path, rng):
    """Planar RGB (one plane per sample), palette, white-is-zero and CMYK TIFFs: tifffile hands
    the samples over as stored, and planar RGB used to become a 3-frame gray stack."""
    rgb = np.round(smooth_image(rng, 20, 30, 3) * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    stack, meta = read_stack(tmp_path / "planar.tif")
    assert len(stack) == 1 and meta.channels == 3 and np.abs(stack[0] * 65535 - rgb).max() < 0.1

    index = np.round(smooth_image(rng, 20, 30) * 255).astype(np.uint8)
    colormap = np.stack([np.arange(256), 255 - np.arange(256), np.full(256, 128)]).astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "palette.tif", index, photometric="palette", colormap=colormap)
    image, meta = read_image(tmp_path / "palette.tif")
    assert meta.channels == 3 and meta.bit_depth == 8
    assert np.allclose(image * 255, np.dstack([index, 255 - index, np.full_like(index, 128)]), atol=1e-3)

    gray = np.round(smooth_image(rng, 20, 30) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "white.tif", 255 - gray, photometric="miniswhite")
    image, _ = read_image(tmp_path / "white.tif")
    assert np.allclose(image * 255, gray, atol=1e-3)

    ink = np.zeros((20, 30, 4), np.uint8)
    ink[:, :15, 0] = 255  # cyan on the left, black ink at half on the right
    ink[:, 15:, 3] = 128
    tifffile.imwrite(tmp_path / "cmyk.tif", ink, photometric="separated")
    image, meta = read_image(tmp_path / "cmyk.tif")
    assert meta.channels == 3
    assert np.allclose(image[0, 0], [0, 1, 1]) and np.allclose(image[0, -1], 127 / 255, atol=1e-6)


def test_exif_orientation_is_honoured(tmp_path):
    from PIL import Image

    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    Image.fromarray(pixels).save(tmp_path / "o.jpg", exif=exif.tobytes(), quality=95)
    img, _ = read_image(tmp_path / "o.jpg")
    assert img.shape == (40, 20, 3)
    assert img[:20].mean() > 0.9 and img[20:].mean() < 0.1  # white half is now on top


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "webp"])
def test_truncated_files_are_reported(tmp_path, rng, ext):
    path = write_image(tmp_path / f"x.{ext}", smooth_image(rng, 64, 64, 3))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"x\." + ext):
        read_image(path)


def test_non_image_and_missing_files(tmp_path):
    (tmp_path / "notes.png").write_text("hello, not a picture")
    with pytest.raises(ImageReadError, match="notes.png: not a PNG"):
        read_image(tmp_path / "notes.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(tmp_path / "empty.jpg")
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ImageReadError, match="unsupported image extension"):
        read_image(tmp_path / "a.txt")
    with pytest.raises(ImageReadError, match="is a folder"):
        read_image(tmp_path)


def test_files_are_read_by_their_content_whatever_their_extension(tmp_path, rng, caplog):
    """Some public MEF sets hold JPEGs named .png: they are read (with a warning), not refused."""
    img = smooth_image(rng, 16, 24, 3)
    logger = logging.getLogger("fusecli")  # the CLI's tests turn its propagation to the root logger off
    logger.addHandler(caplog.handler)
    for written, named in (("x.png", "png_data.jpg"), ("y.jpg", "jpeg_data.png"), ("z.tif", "tiff_data.bmp"), ("w.webp", "webp_data.png")):
        expected, _ = read_image(write_image(tmp_path / written, img))
        os.rename(tmp_path / written, tmp_path / named)
        caplog.clear()
        back, meta = read_image(tmp_path / named)
        assert np.array_equal(back, expected)
        assert meta.format == Path(written).suffix[1:].replace("jpg", "jpeg").replace("tif", "tiff")
        assert f"despite its {Path(named).suffix} extension" in caplog.text
        caplog.clear()
        read_stack(tmp_path / named)  # a batch reads through read_stack: one warning per file, not two
        # (caplog's handler sits on "fusecli" and on the root logger: each record arrives twice)
        assert len({id(r) for r in caplog.records if "despite" in r.getMessage()}) == 1
    logger.removeHandler(caplog.handler)
    (tmp_path / "words.jpg").write_bytes(b"GIF89a, or anything else")
    with pytest.raises(ImageReadError, match="words.jpg: not a JPEG file"):
        read_image(tmp_path / "words.jpg")


def test_quality_sets_lossy_compression_and_is_checked(tmp_path, rng):
    img = smooth_image(rng, 64, 80, 3)
    default, low = write_image(tmp_path / "d.jpg", img), write_image(tmp_path / "low.jpg", img, quality=30)
    assert low.stat().st_size < default.stat().st_size
    err_default = np.abs(read_image(default)[0] - img).mean()
    assert np.abs(read_image(low)[0] - img).mean() > err_default
    lossless, lossy = write_image(tmp_path / "d.webp", img), write_image(tmp_path / "q.webp", img, quality=60)
    assert np.abs(read_image(lossless)[0] - img).max() <= 0.5 / 255 + 1e-7  # WebP by default: lossless
    assert np.abs(read_image(lossy)[0] - img).max() > 2 / 255 and lossy.stat().st_size < lossless.stat().st_size
    with pytest.raises(ImageWriteError, match="quality must be 1..100"):
        write_image(tmp_path / "bad.jpg", img, quality=0)
    with pytest.raises(ImageWriteError, match="WEBP cannot store 16-bit"):
        write_image(tmp_path / "deep.webp", img, bit_depth=16)


def test_write_refuses_overwrite_and_inputs(tmp_path, rng):
    img = smooth_image(rng, 8, 8)
    path = write_image(tmp_path / "out.png", img)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_image(path, 1 - img)
    assert path.read_bytes() == before
    write_image(path, 1 - img, overwrite=True)
    assert path.read_bytes() != before
    with pytest.raises(ImageWriteError, match="input file"):
        write_image(path, img, overwrite=True, inputs=[str(tmp_path / "." / "out.png")])


def test_write_is_atomic_on_failure(tmp_path, rng, monkeypatch):
    img = smooth_image(rng, 8, 8)
    path = write_image(tmp_path / "out.png", img)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(ImageWriteError, match="No space left"):
        write_image(path, 1 - img, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temp file left


def test_bit_depth_rules(tmp_path, rng):
    img = smooth_image(rng, 8, 8)
    with pytest.raises(ImageWriteError, match="JPEG cannot store 16-bit"):
        write_image(tmp_path / "x.jpg", img, bit_depth=16)
    _, meta16 = read_image(write_image(tmp_path / "a.tif", img, bit_depth=16))
    _, follow = read_image(write_image(tmp_path / "b.png", img, meta=meta16))
    assert follow.bit_depth == 16
    _, meta32 = read_image(write_image(tmp_path / "c.tif", img, bit_depth=32))
    _, png_from_float = read_image(write_image(tmp_path / "d.png", img, meta=meta32))
    assert png_from_float.bit_depth == 16
    with pytest.raises(ImageWriteError, match="unsupported image extension"):
        write_image(tmp_path / "x.gif", img)


def test_paths_with_spaces_and_unicode(tmp_path, rng):
    folder = tmp_path / "scene (1) l'été"
    img = smooth_image(rng, 10, 12, 3)
    back, _ = read_image(write_image(folder / "frame 1.jpg", img))
    assert back.shape == img.shape


def test_outputs_get_the_usual_permissions_not_private_temp_ones(tmp_path, rng):
    import os
    import stat

    mask = os.umask(0o022)
    try:
        path = write_image(tmp_path / "out.png", smooth_image(rng, 8, 8))
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("channels", [None, 1, 3, 4])
def test_quantisation_rounds_and_saturates(depth, channels, rng):
    """Written PNG pixels are round(clip(x, 0, 1) * peak), NaN as 0, whatever the channel layout."""
    shape = (9, 11) if channels is None else (9, 11, channels)
    image = (rng.random(shape) * 1.4 - 0.2).astype(np.float32)
    image.flat[:3] = [np.nan, np.inf, -np.inf]
    out = _decoded_png(image, depth)
    peak = 2**depth - 1
    expected = np.round(np.clip(np.nan_to_num(image.astype(np.float64), nan=0, posinf=1, neginf=0), 0, 1) * peak)
    expected = expected[..., 0] if channels == 1 else expected
    assert out.dtype == (np.uint8 if depth == 8 else np.uint16) and out.shape == expected.shape
    assert np.abs(out - expected).max() <= 0.5 + 1e-6
    assert out.flat[0] == 0 and out.flat[1] == peak and out.flat[2] == 0


def test_quantisation_rounds_halves_up_exactly():
    """Rounding is half up on the exact product, so the bytes do not depend on a library's
    rounding mode: 0.5 is a tie at both depths, and 0.72911423 * 65535 = 47782.5014 (a float32
    product would land on the tie 47782.5 and round to even)."""
    image = np.array([[0.5, np.float32(0.72911423), 1 / 255, 254.5 / 255]], np.float32)
    assert _decoded_png(image, 8)[0, :2].tolist() == [128, 186]
    assert _decoded_png(image, 16)[0, :2].tolist() == [32768, 47783]


def _decoded_png(image: np.ndarray, depth: int) -> np.ndarray:
    """``image`` written as fusecli writes a PNG (``encode_image``), decoded back in RGB order."""
    from fusecli.imaging import encode_image

    decoded = cv2.imdecode(np.frombuffer(encode_image(image, "png", depth), np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded.ndim == 3:
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB if decoded.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    return decoded


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("ext", ["jpg", "png", "tif"])
def test_colour_profile_is_carried_from_input_to_output(tmp_path, rng, ext):
    from PIL import Image

    profile = _srgb_profile()
    pixels = (smooth_image(rng, 24, 32, 3) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / f"camera.{ext}", icc_profile=profile)  # as a camera or editor writes it
    image, meta = read_image(tmp_path / f"camera.{ext}")
    assert meta.profile == profile
    out = write_image(tmp_path / f"out.{ext}", image, meta=meta)
    assert Image.open(out).info.get("icc_profile") == profile  # another reader finds it
    back, back_meta = read_image(out)
    assert back_meta.profile == profile and np.abs(back - image).mean() < 0.01
    gray = write_image(tmp_path / f"gray.{ext}", image.mean(2), meta=meta)  # an RGB profile does not fit
    assert read_image(gray)[1].profile is None and "icc_profile" not in Image.open(gray).info


def test_large_profile_spans_jpeg_segments_and_damaged_metadata_is_ignored(tmp_path, rng):
    from fusecli.imaging.metadata import read_embedded
    from fusecli.imaging import ImageMeta

    image = smooth_image(rng, 16, 16, 3)
    profile = _srgb_profile()[:128] + rng.integers(0, 256, 150_000, dtype=np.uint8).tobytes()
    path = write_image(tmp_path / "big.jpg", image, meta=ImageMeta(None, "png", 8, 3, profile=profile))
    assert path.read_bytes().count(b"ICC_PROFILE\x00") == 3  # at most 65,519 bytes a segment
    back, meta = read_image(path)
    assert meta.profile == profile and np.abs(back - image).mean() < 0.01
    cut = b"\xff\xd8\xff\xe2\xff\xffICC_PROFILE\x00\x01\x01" + profile[:1000]  # a segment longer than the file
    assert read_embedded(cut, "jpeg").profile is None
    png = write_image(tmp_path / "p.png", image, meta=meta).read_bytes()
    at = png.index(b"iCCP") - 4
    assert read_embedded(png[:at] + b"\x7f\xff\xff\xff" + png[at + 4 :], "png").profile is None  # a chunk longer than the file


def test_output_meta_takes_the_first_rgb_profile_and_warns_when_inputs_differ(caplog):
    from dataclasses import replace

    from fusecli.imaging import ImageMeta, output_meta

    rgb, other = _srgb_profile(), bytearray(_srgb_profile())
    other[100] ^= 1
    gray = bytes(16) + b"GRAY" + bytes(108)
    ir, vis = ImageMeta(None, "png", 16, 1, profile=gray), ImageMeta(None, "jpeg", 8, 3, profile=rgb)
    merged = output_meta([ir, vis])
    assert merged.bit_depth == 16 and merged.profile == rgb
    assert output_meta([ir]).profile == gray
    logger = logging.getLogger("fusecli")
    logger.addHandler(caplog.handler)
    try:
        assert output_meta([vis, replace(vis, profile=bytes(other))]).profile == rgb
    finally:
        logger.removeHandler(caplog.handler)
    assert "different colour profiles" in caplog.text


def test_exif_is_carried_upright_and_without_thumbnail(tmp_path, rng):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise
    exif[0x010F], exif[0x0132] = "CameraMaker", "2026:11:24 10:00:00"
    pixels = (smooth_image(rng, 20, 40, 3) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "camera.jpg", exif=exif.tobytes())
    image, meta = read_image(tmp_path / "camera.jpg")
    assert image.shape == (40, 20, 3)  # pixels turned upright on reading...
    for ext in ("jpg", "png"):
        out = Image.open(write_image(tmp_path / f"out.{ext}", image, meta=meta))
        kept = out.getexif()
        assert kept[0x010F] == "CameraMaker" and kept[0x0132] == "2026:11:24 10:00:00"
        assert kept[0x0112] == 1 and out.size == (20, 40)  # ...so the output says upright, not turned again
    tiff = write_image(tmp_path / "out.tif", image, meta=meta)  # TIFF keeps no EXIF; the pixels are right
    assert read_image(tiff)[0].shape == (40, 20, 3)
    import struct

    from fusecli.imaging.metadata import upright_exif

    block = bytearray(exif.tobytes()[6:])  # Pillow writes "Exif\0\0" + a big-endian TIFF block
    ifd0 = struct.unpack_from(">I", block, 4)[0]
    link = ifd0 + 2 + 12 * struct.unpack_from(">H", block, ifd0)[0]  # where IFD0 names the next IFD
    struct.pack_into(">I", block, link, 8)  # pretend a thumbnail IFD follows
    assert struct.unpack_from(">I", upright_exif(bytes(block)), link)[0] == 0  # the link is cut
