"""Per-kind authorization, refused active content, and archived objects, without servers.

Per-kind 403s are proven with clients that fail on ANY call: nothing is signed, read or
written for a caller who may not use the kind. Archived objects are proven with botocore's
Stubber and the shapes S3 returns for Intelligent-Tiering archive tiers (HeadObject's
``x-amz-archive-status`` / ``x-amz-restore``, RestoreObject's errors).
"""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from estate_handlers import presign
from estate_handlers.keys import caller_segment
from estate_handlers.upload_policy import UploadPolicy
from lambda_context import one_invocation

from infra.config import ConfigError, KindAccess, UploadApiConfig, UploadKind, default_upload_kinds

PUBLISHER = "arn:aws:sts::111111111111:assumed-role/justkalm-brand-publisher/session-1"
SELLER = "arn:aws:iam::111111111111:user/seller"
ACCESS = KindAccess(iam_principals=("arn:aws:sts::111111111111:assumed-role/justkalm-brand-publisher/*",),
                    jwt_scopes=("uploads/brands",), jwt_groups=("brand-publishers",))
POLICY = UploadPolicy.from_json(UploadApiConfig(kinds=default_upload_kinds(ACCESS)).policy_json())
LOGO = {"kind": "brand-logo", "filename": "mark.png", "content_type": "image/png", "size": 1000}
ARCHIVED_KEY = "products/images/original/0123456789abcdef0123456789abcdef01234567/look.png"


class FailsOnAnyCall:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        self.calls.append(name)
        raise AssertionError(f"unexpected AWS call {name}")


def real_s3():
    return boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIDUNIT",
                        aws_secret_access_key="secret", config=Config(signature_version="s3v4"),
                        endpoint_url="https://s3.us-east-1.amazonaws.com")


def call(deps, body=None, *, method="POST", path="/uploads", query="", authorizer=None):
    ev = {"version": "2.0", "routeKey": f"{method} {path}", "rawPath": path,
          "rawQueryString": query, "isBase64Encoded": False,
          "requestContext": {"http": {"method": method, "path": path}, "stage": "$default",
                             "authorizer": authorizer or {"iam": {"userArn": SELLER}}}}
    if body is not None:
        ev["body"] = json.dumps(body)
    response = one_invocation(presign.handle, ev, deps)
    return response["statusCode"], json.loads(response["body"])


def refusing_deps():
    return presign.Deps(s3=FailsOnAnyCall(), dynamodb=FailsOnAnyCall(), bucket="acme-assets-dev",
                        table="dedup", policy=POLICY)


# --------------------------------------------------------------------------- per-kind access

@pytest.mark.parametrize("kind", ["brand-logo", "brand-media"])
@pytest.mark.parametrize("sha256", [None, "a" * 64])
def test_caller_outside_a_restricted_kind_is_403_before_any_aws_call(kind, sha256):
    deps = refusing_deps()
    body = {**LOGO, "kind": kind, **({"sha256": sha256} if sha256 else {})}
    status, payload = call(deps, body)
    assert (status, payload["error"]) == (403, "forbidden")
    assert "url" not in json.dumps(payload) and deps.s3.calls == deps.dynamodb.calls == []


def test_matching_iam_principal_gets_a_brand_upload_url():
    deps = presign.Deps(s3=real_s3(), dynamodb=FailsOnAnyCall(), bucket="acme-assets-dev",
                        table="dedup", policy=POLICY)
    status, payload = call(deps, LOGO, authorizer={"iam": {"userArn": PUBLISHER}})
    assert status == 200 and payload["key"].startswith("brands/logos/")


@pytest.mark.parametrize("jwt", [{"claims": {"sub": "u1"}, "scopes": ["uploads/brands"]},
                                 {"claims": {"sub": "u1", "scope": "openid uploads/brands"}},
                                 {"claims": {"sub": "u1", "cognito:groups": "[staff brand-publishers]"}}])
def test_jwt_scope_or_group_grants_a_restricted_kind(jwt):
    deps = presign.Deps(s3=real_s3(), dynamodb=FailsOnAnyCall(), bucket="acme-assets-dev",
                        table="dedup", policy=POLICY)
    assert call(deps, LOGO, authorizer={"jwt": jwt})[0] == 200


def test_jwt_without_the_scope_or_group_is_403():
    deps = refusing_deps()
    jwt = {"claims": {"sub": "u1", "scope": "openid", "cognito:groups": "[staff]"}, "scopes": ["openid"]}
    assert call(deps, LOGO, authorizer={"jwt": jwt})[0] == 403 and deps.s3.calls == []


def test_unrestricted_kinds_stay_open_to_every_authorized_caller():
    deps = presign.Deps(s3=real_s3(), dynamodb=FailsOnAnyCall(), bucket="acme-assets-dev",
                        table="dedup", policy=POLICY)
    assert call(deps, {**LOGO, "kind": "product-image"})[0] == 200


def test_shipped_environments_restrict_brand_kinds():
    from infra.environments import ENVIRONMENTS
    for make in ENVIRONMENTS.values():
        kinds = make().upload_api.kinds
        assert kinds["brand-logo"].access is not None and kinds["brand-media"].access is not None
        assert kinds["product-image"].access is None


def test_default_brand_access_admits_nobody():
    policy = UploadPolicy.from_json(UploadApiConfig().policy_json())
    deps = presign.Deps(s3=FailsOnAnyCall(), dynamodb=FailsOnAnyCall(), bucket="b", table="t",
                        policy=policy)
    assert call(deps, LOGO, authorizer={"iam": {"userArn": PUBLISHER}})[0] == 403


# --------------------------------------------------------------------------- active content

def test_svg_logo_is_refused_415_before_any_aws_call():
    deps = refusing_deps()
    status, payload = call(deps, {**LOGO, "content_type": "image/svg+xml", "filename": "m.svg"},
                           authorizer={"iam": {"userArn": PUBLISHER}})
    assert (status, payload["error"]) == (415, "unsupported_content_type")
    assert deps.s3.calls == []


def test_config_that_allows_svg_is_rejected_naming_the_field():
    kinds = {"logo": UploadKind("brands/logos/", ("image/svg+xml",), 1000)}
    with pytest.raises(ConfigError, match=r"kinds\.logo\.content_types"):
        UploadApiConfig(kinds=kinds)


def test_png_logo_url_binds_the_png_content_type():
    deps = presign.Deps(s3=real_s3(), dynamodb=FailsOnAnyCall(), bucket="acme-assets-dev",
                        table="dedup", policy=POLICY)
    _, payload = call(deps, LOGO, authorizer={"iam": {"userArn": PUBLISHER}})
    assert payload["upload"]["fields"]["Content-Type"] == "image/png"


# --------------------------------------------------------------------------- archived objects

def stubbed():
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIDUNIT",
                      aws_secret_access_key="secret")
    return s3, Stubber(s3)


def archived_head(restore=None):
    response = {"ContentLength": 10, "VersionId": "v1", "StorageClass": "INTELLIGENT_TIERING",
                "ArchiveStatus": "ARCHIVE_ACCESS"}
    if restore:
        response["Restore"] = restore
    return response


def download(s3):
    deps = presign.Deps(s3=s3, dynamodb=FailsOnAnyCall(), bucket="acme-assets-dev",
                        table="dedup", policy=POLICY)
    return call(deps, method="GET", path="/downloads", query=f"key={ARCHIVED_KEY}")


def restore(s3):
    deps = presign.Deps(s3=s3, dynamodb=FailsOnAnyCall(), bucket="acme-assets-dev",
                        table="dedup", policy=POLICY)
    return call(deps, {"key": ARCHIVED_KEY}, path="/downloads/restore")


def test_download_of_an_archived_object_is_409_archived_not_a_url():
    s3, stub = stubbed()
    with stub:
        stub.add_response("head_object", archived_head(), {"Bucket": "acme-assets-dev",
                                                           "Key": ARCHIVED_KEY})
        status, payload = download(s3)
    assert (status, payload["error"]) == (409, "archived") and "url" not in payload
    assert payload["restore"]["status"] == "not-started"
    assert payload["restore"]["request"] == {"method": "POST", "path": "/downloads/restore"}


def test_download_during_a_restore_reports_it_in_progress():
    s3, stub = stubbed()
    with stub:
        stub.add_response("head_object", archived_head('ongoing-request="true"'))
        status, payload = download(s3)
    assert status == 409 and payload["restore"]["status"] == "in-progress"


def test_restore_request_starts_a_restore_without_days():
    s3, stub = stubbed()
    with stub:
        stub.add_response("head_object", archived_head())
        stub.add_response("restore_object", {}, {"Bucket": "acme-assets-dev",
                                                 "Key": ARCHIVED_KEY, "VersionId": "v1",
                                                 "RestoreRequest": {}})
        status, payload = restore(s3)
        stub.assert_no_pending_responses()
    assert status == 202 and payload["restore"]["status"] == "in-progress"


def test_restore_already_in_progress_is_reported_not_failed():
    s3, stub = stubbed()
    with stub:
        stub.add_response("head_object", archived_head())
        stub.add_client_error("restore_object", "RestoreAlreadyInProgress",
                              "Object restore is already in progress", 409)
        assert restore(s3)[0] == 202


def test_restore_of_an_object_no_longer_archived_is_not_needed():
    s3, stub = stubbed()
    with stub:
        stub.add_response("head_object", archived_head())
        stub.add_client_error(
            "restore_object", "InvalidObjectState",
            "Restore is not allowed for the object's current storage class", 403,
            service_error_meta={"StorageClass": "INTELLIGENT_TIERING",
                                "AccessTier": "FREQUENT_ACCESS"})
        status, payload = restore(s3)
    assert status == 200 and payload["restore"]["status"] == "not-needed"


def test_restore_of_an_object_in_a_frequent_tier_makes_no_restore_call():
    s3, stub = stubbed()
    with stub:
        stub.add_response("head_object", {"ContentLength": 10, "VersionId": "v1",
                                          "StorageClass": "INTELLIGENT_TIERING"})
        status, payload = restore(s3)
        stub.assert_no_pending_responses()
    assert status == 200 and payload["restore"]["status"] == "not-needed"


def test_restore_of_a_foreign_user_key_is_403_before_any_call():
    deps = refusing_deps()
    status, _ = call(deps, {"key": "user-content/uploads/someone-else/x/y.png"},
                     path="/downloads/restore")
    assert status == 403 and deps.s3.calls == []


def test_completion_of_a_restricted_kind_by_a_caller_no_longer_admitted_is_403():
    from estate_handlers.keys import new_key
    key = new_key("brands/media/", False, SELLER, "film.mp4")  # issued to the seller once
    deps = refusing_deps()
    status, payload = call(deps, {"key": key, "upload_id": "u-1", "action": "abort"},
                           path="/uploads/complete")
    assert (status, payload["error"]) == (403, "forbidden") and deps.s3.calls == []


# The same answers from the wire: S3's raw headers and error XML, parsed by botocore itself.

class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_):
        yield self._body


def wire_s3(*answers):
    """A real S3 client whose HTTP sends are answered, in order, by (status, headers, body)."""
    from botocore.awsrequest import AWSResponse
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIDUNIT",
                      aws_secret_access_key="secret", config=Config(retries={"max_attempts": 1}))
    pending, sent = list(answers), []

    def before_send(request, **_):
        sent.append(request)
        status, headers, body = pending.pop(0)
        return AWSResponse(request.url, status, headers, _Raw(body))

    s3.meta.events.register("before-send", before_send)
    return s3, sent


ARCHIVED_HEADERS = {"Content-Length": "10", "x-amz-version-id": "v1",
                    "x-amz-storage-class": "INTELLIGENT_TIERING",
                    "x-amz-archive-status": "DEEP_ARCHIVE_ACCESS"}


def test_wire_archive_status_and_ongoing_restore_headers_give_409_in_progress():
    s3, _ = wire_s3((200, {**ARCHIVED_HEADERS, "x-amz-restore": 'ongoing-request="true"'}, b""))
    status, payload = download(s3)
    assert (status, payload["error"]) == (409, "archived")
    assert payload["restore"]["status"] == "in-progress"
    assert payload["restore"]["tier"] == "DEEP_ARCHIVE_ACCESS"


def test_wire_restore_request_body_has_no_days():
    s3, sent = wire_s3((200, ARCHIVED_HEADERS, b""), (202, {}, b""))
    assert restore(s3)[0] == 202
    method, body = sent[1].method, sent[1].body or b""
    assert method == "POST" and "restore" in sent[1].url and b"<Days>" not in body


def test_wire_invalid_object_state_on_restore_means_not_needed():
    error = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidObjectState</Code>'
             b"<Message>Restore is not allowed for the object's current storage class</Message>"
             b"<StorageClass>INTELLIGENT_TIERING</StorageClass>"
             b"<AccessTier>FREQUENT_ACCESS</AccessTier><RequestId>R</RequestId></Error>")
    s3, _ = wire_s3((200, ARCHIVED_HEADERS, b""), (403, {}, error))
    status, payload = restore(s3)
    assert status == 200 and payload["restore"]["status"] == "not-needed"


def test_wire_a_delete_markers_version_id_is_404_on_download_and_restore():
    # S3 answers a HEAD of a delete marker's version id with 405 and no body.
    marker = (405, {"x-amz-delete-marker": "true", "x-amz-version-id": "dm1",
                    "Allow": "DELETE"}, b"")
    deps = {"dynamodb": FailsOnAnyCall(), "bucket": "acme-assets-dev", "table": "dedup",
            "policy": POLICY}
    s3, sent = wire_s3(marker)
    status, payload = call(presign.Deps(s3=s3, **deps), method="GET", path="/downloads",
                           query=f"key={ARCHIVED_KEY}&version_id=dm1")
    assert (status, payload["error"]) == (404, "not_found") and len(sent) == 1
    s3, sent = wire_s3(marker)
    status, payload = call(presign.Deps(s3=s3, **deps),
                           {"key": ARCHIVED_KEY, "version_id": "dm1"}, path="/downloads/restore")
    assert (status, payload["error"]) == (404, "not_found") and len(sent) == 1


# ------------------------------------------------- the gate's bucket policy and HeadObject
# In AWS, DenyReadsUntilScannedClean denies s3:GetObject (so HeadObject) on a version not
# scanned clean; GetObjectTagging stays open. Under a gated prefix the verdict must come first:
# a HeadObject queued after it would be answered 403 there (the local S3 has no bucket policy,
# so these run on the Stubber, which fails on any call out of this order).

GATED_KEY = f"user-content/uploads/{caller_segment(SELLER)}/report.pdf"  # the seller's, gated


def gated_deps(s3):
    return presign.Deps(s3=s3, dynamodb=FailsOnAnyCall(), bucket="acme-assets-dev",
                        table="dedup", policy=POLICY, scan_gated_prefixes=("user-content/",))


def _tagging(verdict=None, version="v7"):
    tags = [{"Key": "GuardDutyMalwareScanStatus", "Value": verdict}] if verdict else []
    return {"TagSet": tags, "VersionId": version}


@pytest.mark.parametrize(("verdict", "status", "error"), [
    (None, 409, "scan-pending"), ("THREATS_FOUND", 403, "quarantined"),
    ("ACCESS_DENIED", 422, "scan-failed")])
def test_a_gated_download_not_scanned_clean_is_answered_from_its_tags_alone(verdict, status,
                                                                           error):
    for path, body, query in (("/downloads", None, f"key={GATED_KEY}"),
                              ("/downloads/restore", {"key": GATED_KEY}, "")):
        s3, stub = stubbed()
        with stub:
            stub.add_response("get_object_tagging", _tagging(verdict),
                              {"Bucket": "acme-assets-dev", "Key": GATED_KEY})
            got, payload = call(gated_deps(s3), body, method="GET" if body is None else "POST",
                                path=path, query=query)
            stub.assert_no_pending_responses()
        assert (got, payload["error"]) == (status, error), path


def test_a_clean_gated_download_is_pinned_to_the_version_whose_verdict_was_read():
    s3, stub = stubbed()
    with stub:
        stub.add_response("get_object_tagging", _tagging("NO_THREATS_FOUND", "v7"),
                          {"Bucket": "acme-assets-dev", "Key": GATED_KEY})
        stub.add_response("head_object", {"ContentLength": 10, "VersionId": "v7"},
                          {"Bucket": "acme-assets-dev", "Key": GATED_KEY, "VersionId": "v7"})
        status, payload = call(gated_deps(s3), method="GET", path="/downloads",
                               query=f"key={GATED_KEY}")
        stub.assert_no_pending_responses()
    assert status == 200 and "versionId=v7" in payload["url"]


def test_a_gated_version_that_does_not_exist_is_404():
    s3, stub = stubbed()
    with stub:
        stub.add_client_error("get_object_tagging", "NoSuchVersion", http_status_code=404,
                              expected_params={"Bucket": "acme-assets-dev", "Key": GATED_KEY,
                                               "VersionId": "gone"})
        status, payload = call(gated_deps(s3), method="GET", path="/downloads",
                               query=f"key={GATED_KEY}&version_id=gone")
    assert (status, payload["error"]) == (404, "not_found")


def test_a_gated_dedup_candidate_not_scanned_clean_is_no_hit_and_never_headed():
    from estate_handlers.dedup_index import CanonicalObject

    sha = "ab" * 32
    canonical = CanonicalObject(sha, GATED_KEY, "v7", 1000, "2026-12-01")

    class Index:
        def get_item(self, **_):
            return {"Item": canonical.to_item()}

    s3, stub = stubbed()
    with stub:
        stub.add_response("get_object_tagging", _tagging(None, "v7"),
                          {"Bucket": "acme-assets-dev", "Key": GATED_KEY, "VersionId": "v7"})
        deps = presign.Deps(s3=s3, dynamodb=Index(), bucket="acme-assets-dev", table="dedup",
                            policy=POLICY, scan_gated_prefixes=("user-content/",))
        status, payload = call(deps, {"kind": "user-upload", "filename": "report.pdf",
                                      "content_type": "application/pdf", "size": 1000,
                                      "sha256": sha})
        stub.assert_no_pending_responses()
    assert status == 200 and payload["deduplicated"] is False  # a fresh URL instead
