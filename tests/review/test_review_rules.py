"""The curated replacement table stays honest against CloudFormation's registry schemas."""
from __future__ import annotations

import pytest

from tools.review.rules import DOCUMENTED_ONLY, REPLACES, UPDATE_FAILS


def _create_only(rtype: str) -> set[str]:
    # Imported here, not at collection: cfn-lint loads sympy and networkx (~1 s), and every
    # xdist worker collects this module while only one runs it.
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", rtype)
    return {p.removeprefix("/properties/") for p in schema.schema.get("createOnlyProperties", [])}


@pytest.mark.parametrize("rtype", sorted(REPLACES))
def test_replacement_properties_are_create_only_in_the_registry_or_documented(rtype):
    undocumented = REPLACES[rtype] - _create_only(rtype) - DOCUMENTED_ONLY.get(rtype, set())
    assert not undocumented, f"{rtype}: not create-only in the registry schema: {undocumented}"


@pytest.mark.parametrize("rtype", sorted(REPLACES))
def test_every_create_only_property_of_the_registry_is_in_the_table(rtype):
    # The other direction: a create-only property missing here would be reviewed as an
    # in-place update (those whose change fails the update instead are in UPDATE_FAILS).
    missing = _create_only(rtype) - REPLACES[rtype] - UPDATE_FAILS.get(rtype, frozenset())
    assert not missing, f"{rtype}: create-only in the registry schema, not in REPLACES: {missing}"


@pytest.mark.parametrize("rtype", sorted(UPDATE_FAILS))
def test_properties_that_fail_the_update_are_not_also_listed_as_replacing(rtype):
    assert not UPDATE_FAILS[rtype] & REPLACES.get(rtype, frozenset())
