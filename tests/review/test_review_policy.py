"""Statement-level policy diff: what counts as widened."""
from __future__ import annotations

import pytest

from tools.review.policy import diff_documents

READ = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
        "Principal": {"AWS": "arn:aws:iam::111111111111:root"}}
DENY_HTTP = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_reordered_statements_and_single_value_lists_are_unchanged():
    as_lists = {**READ, "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}
    assert diff_documents(doc(READ, DENY_HTTP), doc(DENY_HTTP, as_lists)) == []


def test_dropping_a_condition_from_an_allow_is_widening():
    conditional = {**READ, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}
    [change] = diff_documents(doc(conditional), doc(READ))
    assert change.widened and "conditions dropped" in change.text


def test_principal_aws_star_counts_as_anyone():
    [change] = diff_documents(doc(READ), doc({**READ, "Principal": {"AWS": "*"}}))
    assert change.widened and "principal widened to `*`" in change.text


def test_removing_an_action_from_an_allow_is_not_widening():
    both = {**READ, "Action": ["s3:GetObject", "s3:PutObject"]}
    [change] = diff_documents(doc(both), doc(READ))
    assert not change.widened and "actions − `s3:PutObject`" in change.text


def test_new_unconditional_allow_to_anyone_is_marked_public():
    [change] = diff_documents(None, doc({**READ, "Principal": "*"}))
    assert change.widened and change.text.startswith("**public** statement added")


def test_adding_a_deny_is_not_widening():
    [change] = diff_documents(doc(READ), doc(READ, DENY_HTTP))
    assert not change.widened


def test_resources_changed_to_any_resource_is_widened_and_says_so():
    [change] = diff_documents(doc(READ), doc({**READ, "Resource": ["*"]}))
    assert change.widened and "**resources widened to `*`**" in change.text


def test_actions_changed_to_any_action_is_widened_and_says_so():
    [change] = diff_documents(doc(READ), doc({**READ, "Action": "*"}))
    assert change.widened and "**actions widened to `*`**" in change.text


def test_a_service_wildcard_on_any_resource_names_both_wildcards():
    wide = {**READ, "Action": ["s3:GetObject", "s3:*"], "Resource": ["arn:aws:s3:::b/*", "*"]}
    [change] = diff_documents(doc(READ), doc(wide))
    assert change.widened and "**actions widened to `s3:*`**" in change.text \
        and "**resources widened to `*`**" in change.text


def test_principal_aws_star_in_a_list_counts_as_anyone():
    [change] = diff_documents(None, doc({**READ, "Principal": {"AWS": ["*"]}}))
    assert change.widened and change.text.startswith("**public** statement added") \
        and "AWS:*" not in change.text


def test_a_deny_extended_to_any_resource_is_not_widening():
    deny = {**DENY_HTTP, "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}
    [change] = diff_documents(doc(deny), doc(DENY_HTTP))
    assert not change.widened


def test_a_renamed_bucket_in_resources_is_retargeted_not_widened():
    renamed = {**READ, "Resource": "arn:aws:s3:::c/*"}
    [change] = diff_documents(doc(READ), doc(renamed))
    assert not change.widened
    assert "resources retargeted: `arn:aws:s3:::b/*` → `arn:aws:s3:::c/*`" in change.text
    # Not a swap: a pattern of the same shape now covering the old value, or the same role
    # name in another account.
    reports = ({**READ, "Resource": "arn:aws:s3:::b/reports-*"}, READ)
    role = {**READ, "Principal": {"AWS": "arn:aws:iam::111111111111:role/app"}}
    other = (role, {**READ, "Principal": {"AWS": "arn:aws:iam::222222222222:role/app"}})
    for before, after in (reports, other):
        [change] = diff_documents(doc(before), doc(after))
        assert change.widened and "retargeted" not in change.text


def test_a_deny_moved_to_other_resources_is_widened_even_when_it_looks_like_a_rename():
    # What a Deny stops protecting cannot be told from a rename of the same shape: the
    # backups bucket's deny moved to a scratch bucket reads exactly like a renamed bucket.
    deny = {**DENY_HTTP, "Resource": ["arn:aws:s3:::a", "arn:aws:s3:::a/*"]}
    renamed = {**DENY_HTTP, "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}
    [change] = diff_documents(doc(deny), doc(renamed))
    assert change.widened and "retargeted" not in change.text


@pytest.mark.parametrize(("before", "after"), [
    # Another action is another right, whatever the count.
    ({"Action": "s3:GetObject"}, {"Action": "s3:DeleteObject"}),
    ({"Action": "iam:GetRole"}, {"Action": "iam:PassRole"}),
    # A role swapped for the whole account, or one service for another.
    ({"Principal": {"AWS": "arn:aws:iam::111111111111:role/app"}},
     {"Principal": {"AWS": "arn:aws:iam::111111111111:root"}}),
    ({"Principal": {"Service": "lambda.amazonaws.com"}},
     {"Principal": {"Service": "ec2.amazonaws.com"}}),
    # A wildcard moved to another ARN segment: every bucket's index.html.
    ({"Resource": "arn:aws:s3:::assets/*"}, {"Resource": "arn:aws:s3:::*/index.html"}),
    # Condition values that name who or where, not a resource.
    ({"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-aaaa1111"}}},
     {"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-bbbb2222"}}}),
    ({"Condition": {"StringEquals": {"aws:SourceVpc": "vpc-111"}}},
     {"Condition": {"StringEquals": {"aws:SourceVpc": "vpc-222"}}}),
    ({"Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "guest"}}},
     {"Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "admin"}}}),
])
def test_swaps_that_change_who_or_what_is_allowed_are_widened(before, after):
    [change] = diff_documents(doc({**READ, **before}), doc({**READ, **after}))
    assert change.widened and "retargeted" not in change.text \
        and "condition value changed" not in change.text


def _on(source_arn, org="o-1"):
    return {**READ, "Condition": {"StringEquals": {"aws:SourceArn": source_arn,
                                                   "aws:PrincipalOrgID": org}}}


def test_a_condition_value_renamed_is_a_changed_value_not_dropped_and_added():
    [change] = diff_documents(doc(_on("arn:aws:s3:::a")), doc(_on("arn:aws:s3:::b")))
    assert not change.widened and "condition value changed: StringEquals aws:SourceArn" \
        in change.text and "dropped" not in change.text
    # A Bool is not a name: flipping it changes what the statement means.
    https = {**DENY_HTTP, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    [change] = diff_documents(doc(DENY_HTTP), doc(https))
    assert change.widened and "condition changed: Bool aws:SecureTransport `false` → `true`" \
        in change.text


@pytest.mark.parametrize(("before", "after"), [
    ("arn:aws:s3:::a", "arn:aws:s3:::*"),  # a resource-naming value turned wildcard
    ("arn:aws:sns:us-east-1:111111111111:t", "arn:aws:sns:us-east-1:222222222222:t"),
])
def test_a_resource_naming_condition_widened_to_a_wildcard_or_another_account(before, after):
    [change] = diff_documents(doc(_on(before)), doc(_on(after)))
    assert change.widened and "**condition widened**: StringEquals aws:SourceArn" in change.text


@pytest.mark.parametrize("condition", [
    # Neither is a rename even on a resource-naming key: Null flips meaning, a Not… operator
    # admits everything but the value.
    ({"Null": {"aws:SourceArn": "true"}}, {"Null": {"aws:SourceArn": "false"}}),
    ({"ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::a"}},
     {"ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::b"}}),
])
def test_an_allows_null_or_not_condition_on_a_resource_key_is_widened(condition):
    before, after = condition
    [change] = diff_documents(doc({**READ, "Condition": before}), doc({**READ, "Condition": after}))
    assert change.widened and "condition value changed" not in change.text


def test_a_condition_value_turned_wildcard_is_widening():
    [change] = diff_documents(doc(_on("arn:aws:s3:::a")), doc(_on("arn:aws:s3:::a", "o-*")))
    assert change.widened and "**condition widened**" in change.text

