"""The renditions benchmark's encoder study: how a setting's options are built from the
shipped ones, and how "bytes at equal perceptual quality" is read off a quality sweep."""
from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest
from estate_handlers.renditions import imaging
from PIL import Image

_SPEC = importlib.util.spec_from_file_location(
    "bench_renditions", Path(__file__).resolve().parents[2] / "bench" / "bench_renditions.py")
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


def test_bytes_at_a_score_are_interpolated_between_the_two_bracketing_qualities():
    sweep = [(60.0, 1000), (70.0, 2000), (80.0, 4000)]
    assert bench.bytes_at_score(sweep, 75.0) == pytest.approx(3000.0)
    assert bench.bytes_at_score(sweep, 60.0) == pytest.approx(1000.0)
    assert bench.bytes_at_score(list(reversed(sweep)), 65.0) == pytest.approx(1500.0)


def test_a_score_outside_the_sweep_is_not_extrapolated():
    sweep = [(60.0, 1000), (70.0, 2000)]
    assert bench.bytes_at_score(sweep, 59.9) is None
    assert bench.bytes_at_score(sweep, 70.1) is None
    assert bench.bytes_at_score([(60.0, 1000)], 60.5) is None


def test_a_study_setting_changes_one_option_and_keeps_the_shipped_rest():
    options = bench.study_options("avif", {"speed": 9, "tune": "ssim"})
    assert options["speed"] == 9
    assert options["codec"] == imaging.AVIF_CODEC
    assert options["advanced"] == {**imaging.AVIF_AOM_OPTIONS, "tune": "ssim"}
    assert bench.study_options("webp", {"method": 2}) == {"method": 2}
    # The shipped options are not changed by building a study's.
    assert imaging.encoder_options("avif")["advanced"] == imaging.AVIF_AOM_OPTIONS
    assert "tune" not in imaging.AVIF_AOM_OPTIONS


def test_every_studied_setting_encodes_and_the_shipped_one_is_what_the_function_writes():
    photo = Image.effect_mandelbrot((96, 64), (-2.0, -1.2, 1.0, 1.2), 40).convert("RGB")
    seen = set()
    for fmt, label, overrides in bench.ENCODER_SETTINGS:
        body = imaging.encode(photo, fmt, 60, **bench.study_options(fmt, overrides))
        assert Image.open(io.BytesIO(body)).size == photo.size, label
        if fmt not in seen:  # the first setting of each format is the shipped one
            seen.add(fmt)
            assert overrides == {}, label
            assert body == imaging.encode(photo, fmt, 60), label


def test_the_quality_is_stepped_until_every_width_brackets_its_target(monkeypatch):
    # A fake encoder whose score is the quality and whose bytes are ten times it, per width:
    # at targets 62.5 and 57.5 the sweep must go up to 65 and report 625 + 575 bytes.
    def sweep(levels, fmt, quality, options, score):
        return {"quality": quality, "cpu": 0.0, "bytes": [10 * quality] * len(levels),
                "scores": [float(quality)] * len(levels)}

    monkeypatch.setattr(bench, "sweep_point", sweep)
    first = sweep([0, 0], "avif", 55, {}, None)
    total, tried = bench.equal_quality_bytes([0, 0], "avif", {}, 55, [62.5, 57.5], None, first)
    assert total == pytest.approx(625 + 575)
    assert tried == [55, 60, 65]
    # Downwards too, and a target no quality reaches is reported, not invented.
    total, tried = bench.equal_quality_bytes([0], "avif", {}, 55, [41.0], None,
                                             sweep([0], "avif", 55, {}, None))
    assert total == pytest.approx(410) and tried == [40, 45, 50, 55]
    total, _ = bench.equal_quality_bytes([0], "avif", {}, 55, [250.0], None,
                                         sweep([0], "avif", 55, {}, None))
    assert total is None
