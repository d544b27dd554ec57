"""Renditions: every product original becomes stored, stripped, CDN-ready renditions.

    settings  - the rendition set (widths, formats, qualities, caps), validated
    sniff     - what a file is, from its bytes: format, structure, header dimensions
    imaging   - decode once (shrunk on load), orient, sRGB 8-bit, resize, encode
    fingerprints - placeholder (LQIP), dominant colour, 64-bit perceptual hash
    keys      - where renditions and the manifest of an original live (deterministic)
    pipeline  - one original version: S3 in, renditions + manifest out, tags on rejects
    handler   - the Lambda entry points (SQS batch, S3 Batch Operations)

Everything but ``pipeline`` and ``handler`` is pure and runs without AWS.
"""
