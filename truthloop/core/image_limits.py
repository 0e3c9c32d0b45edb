"""The limits every image is decoded under, written once: `formats` uses them when called
without limits, and the settings (`config.Settings.max_image_bytes`, `max_image_pixels`) start
from them, so a project and a direct call refuse the same images.

Plain values, no imports: the settings read them without importing the image readers.
"""

# 50 MB, as the settings table in config.py says: larger than any photo a camera writes, small
# enough that a hostile upload cannot fill memory.
MAX_IMAGE_BYTES = 50_000_000
# A decompression-bomb guard; Pillow's own (Image.MAX_IMAGE_PIXELS, ~89 Mpx) also applies, so a
# larger limit is capped by it.
MAX_IMAGE_PIXELS = 64_000_000
