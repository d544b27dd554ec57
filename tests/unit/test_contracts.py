"""The infrastructure and the handlers agree on the names they share."""
from estate_handlers import dedup_index

from infra import config


def test_lifecycle_rule_expires_exactly_the_tag_the_hasher_writes():
    assert config.DUPLICATE_TAG == (dedup_index.DEDUP_STATUS_TAG, dedup_index.DUPLICATE)


def test_hasher_prefixes_are_asset_prefixes():
    for prefix in dedup_index.UPLOAD_PREFIXES:
        assert any(p.startswith(prefix) for p in config.ASSET_PREFIXES), prefix


def test_every_upload_kind_lands_under_a_prefix_the_hasher_hashes():
    for name, kind in config.UploadApiConfig().kinds.items():
        assert any(kind.prefix.startswith(p) for p in dedup_index.UPLOAD_PREFIXES), name
