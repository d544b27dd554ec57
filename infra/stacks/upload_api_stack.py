"""UploadApi: the presigned upload/download HTTP API of one environment (us-east-1).

Thin: the rules are ``PresignApi``'s. Deploys after Assets, whose assets key, dedup table
and table key it references (same region: plain CloudFormation exports); the bucket is
named, not referenced. No termination protection: it holds no data.
"""
from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.presign_api import PresignApi


class UploadApiStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig,
                 bucket_key: kms.IKey, table: dynamodb.ITable, table_key: kms.IKey,
                 scan_gated_prefixes: tuple[str, ...] = ()) -> None:
        super().__init__(scope, construct_id,
                         env=Environment(account=cfg.account, region=cfg.primary_region),
                         description=f"Upload API of the {cfg.name} storage estate",
                         termination_protection=False)
        self.presign = PresignApi(self, "UploadApi",
                                  function_name=cfg.presign_name, api_name=cfg.upload_api_name,
                                  access_log_group_name=cfg.upload_api_access_log_group_name,
                                  upload_api=cfg.upload_api,
                                  bucket_name=cfg.assets_bucket_name, bucket_key=bucket_key,
                                  table=table, table_key=table_key,
                                  scan_gated_prefixes=scan_gated_prefixes)
        self.api = self.presign.api
        self.function = self.presign.function
        CfnOutput(self, "UploadApiUrl", value=self.presign.url,
                  description="Endpoint of the upload API ($default stage)")
