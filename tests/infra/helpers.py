"""Small readers over synthesized template JSON, shared by the infra tests."""
from __future__ import annotations


def resources(template: dict, cfn_type: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def only(template: dict, cfn_type: str) -> tuple[str, dict]:
    found = resources(template, cfn_type)
    assert len(found) == 1, f"expected one {cfn_type}, found {sorted(found)}"
    return next(iter(found.items()))


def bucket_named(template: dict, name: str) -> tuple[str, dict]:
    for logical_id, res in resources(template, "AWS::S3::Bucket").items():
        if res["Properties"].get("BucketName") == name:
            return logical_id, res
    raise AssertionError(f"no bucket named {name}")


def policy_of_bucket(template: dict, bucket_logical_id: str) -> list[dict]:
    for res in resources(template, "AWS::S3::BucketPolicy").values():
        if res["Properties"]["Bucket"] == {"Ref": bucket_logical_id}:
            return res["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError(f"no bucket policy for {bucket_logical_id}")


def key_of_bucket(template: dict, bucket: dict) -> tuple[str, dict]:
    sse = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    key_ref = sse["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    return key_ref, template["Resources"][key_ref]


def lifecycle_rules(bucket: dict) -> dict[str, dict]:
    return {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def account_principal(principal: dict) -> str | None:
    """The account id when ``principal`` is an account's root (``arn:<partition>:iam::<id>:root``,
    literal or joined with the partition), else None."""
    arn = principal.get("AWS") if isinstance(principal, dict) else None
    if isinstance(arn, dict) and "Fn::Join" in arn:
        separator, parts = arn["Fn::Join"]
        arn = separator.join("aws" if p == {"Ref": "AWS::Partition"} else p for p in parts)
    if not isinstance(arn, str) or not arn.endswith(":root") or ":iam::" not in arn:
        return None
    return arn.split(":iam::")[1].removesuffix(":root")
