"""Thumbnails for images: at most 320 px, re-encoded by us as JPEG (transparency on white),
so no EXIF/GPS or other metadata of the original survives, and only types we made are ever
shown inline. Pillow's decompression-bomb guard is set from the settings."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

THUMB_SIZE = (320, 320)
# Images larger than this (width × height) are refused outright.
MAX_IMAGE_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


class BadImage(ValueError):
    """The image cannot be read, or is a decompression bomb."""


def make_thumbnail(data: bytes) -> bytes | None:
    """A JPEG thumbnail, or None when Pillow cannot decode this format
    (e.g. HEIC without a plugin). ``BadImage`` for a broken image or a bomb."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise BadImage("too many pixels")
            image.draft("RGB", (THUMB_SIZE[0] * 2, THUMB_SIZE[1] * 2))  # JPEG: decode smaller
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image) or image
            image.thumbnail(THUMB_SIZE)
    except UnidentifiedImageError:
        return None
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(str(exc)) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise BadImage(str(exc)) from exc
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()
