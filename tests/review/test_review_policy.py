"""Statement-level policy diff: what counts as widened."""
from __future__ import annotations

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
