"""The local S3 really authenticates: otherwise every "store rejects" test proves nothing."""
from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from local_services import http, s3_error_code


def test_store_rejects_an_unsigned_upload(s3_endpoint, fresh_bucket, s3_client):
    status, body = http("PUT", f"{s3_endpoint}/{fresh_bucket}/products/images/original/x.png",
                        b"anonymous")
    assert (status, s3_error_code(body)) == (403, "AccessDenied")
    assert s3_client.list_object_versions(Bucket=fresh_bucket).get("Versions", []) == []


def test_store_rejects_a_url_signed_with_the_wrong_secret(
        s3_endpoint, fresh_bucket, s3_client, aws_test_credentials):
    forger = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id=aws_test_credentials["access_key"],
                          aws_secret_access_key="guessed-secret",
                          config=Config(signature_version="s3v4"))
    url = forger.generate_presigned_url(
        "put_object", Params={"Bucket": fresh_bucket, "Key": "products/images/original/y.png"})
    status, body = http("PUT", url, b"forged")
    assert (status, s3_error_code(body)) == (403, "SignatureDoesNotMatch")
    assert s3_client.list_object_versions(Bucket=fresh_bucket).get("Versions", []) == []


def test_dedup_table_has_the_index_schema(dynamodb_client, dedup_table):
    table = dynamodb_client.describe_table(TableName=dedup_table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "sha256", "KeyType": "HASH"}]


def test_missing_weed_binary_is_a_clear_error_not_a_skip(monkeypatch, tmp_path):
    import local_services
    monkeypatch.setattr(local_services, "REPO", tmp_path)
    monkeypatch.setattr(local_services.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(local_services.LocalServiceError, match="make install"):
        local_services.find_weed()


def test_missing_dynamodb_local_jar_is_a_clear_error_not_a_skip(monkeypatch, tmp_path):
    import local_services
    monkeypatch.setattr(local_services, "REPO", tmp_path)
    with pytest.raises(local_services.LocalServiceError, match="DynamoDBLocal.jar"):
        local_services.find_dynamodb_local()
