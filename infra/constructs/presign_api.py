"""PresignApi: an HTTP API that hands out presigned upload and download URLs.

    POST /uploads           presigned POST / PUT / multipart plan for one upload kind
    POST /uploads/complete  complete or abort a multipart upload
    GET  /downloads         presigned GET of one object version
    POST /downloads/restore restore an object from an Intelligent-Tiering archive tier

    GET  /health-<stack id> (``add_write_health``) can this region take a write now?

Every upload/download route is authorized: IAM (SigV4) by default, a JWT authorizer when the
config names an issuer. The health route is the one without an authorizer: Route 53 health
checks cannot sign requests. Its path ends in the stack's own id (the UUID CloudFormation gave
the stack, which nobody outside the account knows): a route anyone could call would let a
stranger use up its throttle or its function's reserved executions, fail Route 53's probes and
so move every upload to the other Region. It takes no input, returns only a status, and its
function may do one thing: a PutObject of a new key under its region's probe prefix (at most
one a second per execution, 5 executions). The ``$default`` stage is throttled (rate
and burst from config) and writes one JSON access-log line per request to a KMS-encrypted
log group. HTTP APIs cannot be associated with AWS WAF (only REST APIs, ALBs, AppSync,
CloudFront can); the throttle and the authorizer are the edge controls here.

What the presign function can do, all of it (``presign_statements`` below, plus
``WriteOwnLogs`` that every estate function has, see ``function.py``).
A presigned URL carries the signer's permissions, so these are also the ceiling of every
URL it issues:
- s3:PutObject, AbortMultipartUpload under each upload kind's
  prefix (presigned POST/PUT/UploadPart, Create/CompleteMultipartUpload);
- s3:GetObject(Version) under the estate's asset prefixes (downloads; the handler narrows
  user content to the caller's own segment, and reads HeadObject for dedup hits);
- s3:ListBucket (HeadObject of a missing key: 404, not 403; an ``s3:prefix`` condition
  would never match a HeadObject, which carries no prefix);
- kms:GenerateDataKey/Decrypt with the assets key, through S3 only (SSE-KMS uploads,
  multipart completion, downloads);
- dynamodb:GetItem on the dedup index, and kms:Decrypt with its key through DynamoDB only;
- s3:RestoreObject under the prefixes with archive tiers (``ARCHIVE_TIER_PREFIXES``) only, and
  only in the primary Region (the replica bucket has no archive tiers);
- s3:GetObjectTagging/GetObjectVersionTagging under the scan-gated prefixes only (the malware
  verdict tag decides whether a download or a dedup hit is released); none when the gate is off.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Aws, Duration, Fn, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import (
    ARCHIVE_TIER_PREFIXES,
    ASSET_PREFIXES,
    DEDUP_FAILED_METRIC,
    METRICS_NAMESPACE,
    SCAN_GATED_PREFIXES_ENV,
    SCAN_HOLDS_UNSCANNED_ENV,
    WRITE_HEALTH_BUCKET_ENV,
    WRITE_HEALTH_PREFIX,
    MonitoringConfig,
    UploadApiConfig,
)
from infra.constructs.arns import bucket_arn, object_arns, only_via
from infra.constructs.encryption import EncryptedLogGroup
from infra.constructs.function import EstateFunction
from infra.constructs.monitoring import MetricAlarm, MonitoredFunction, summed
from infra.constructs.upload_hasher import TABLE_ENV
from infra.nag import acknowledge

HANDLER = "estate_handlers.presign.handler"
HEALTH_HANDLER = "estate_handlers.write_health.handler"
HEALTH_BUCKET_ENV = WRITE_HEALTH_BUCKET_ENV
HEALTH_PATH_PREFIX = "/health-"
# Route 53's checkers probe about 1.5 times a second in all; a few concurrent probes at most.
HEALTH_RESERVED_CONCURRENCY = 5
# Cold start is dominated by importing boto3/botocore; Lambda's CPU share scales with
# memory, so 512 MB initializes markedly faster than 128 MB for a fraction of a cent. The
# work itself (signing URLs, one HeadObject, one GetItem) is light.
MEMORY_MB = 512
# Well under the HTTP API's 30 s integration limit: a stuck S3/DynamoDB call (the handler's
# clients time out after 2 s connect / 5 s read) ends as a clean Lambda error, not a 503
# from the gateway while the function still runs.
TIMEOUT = Duration.seconds(10)

ROUTES = (
    ("/uploads", apigwv2.HttpMethod.POST),
    ("/uploads/complete", apigwv2.HttpMethod.POST),
    ("/downloads", apigwv2.HttpMethod.GET),
    ("/downloads/restore", apigwv2.HttpMethod.POST),
)

# One JSON object per request. Who called: the SigV4 principal under IAM authorization,
# the token's subject under JWT.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "caller": "$context.identity.caller",
    "principal": "$context.identity.userArn",
    "jwtSubject": "$context.authorizer.claims.sub",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
}


def access_log_format() -> str:
    return json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))


def upload_prefixes(upload_api: UploadApiConfig) -> list[str]:
    """Every upload kind's prefix, once each, in config order."""
    return list(dict.fromkeys(kind.prefix for kind in upload_api.kinds.values()))


def presign_statements(*, region: str, bucket_name: str, bucket_key: kms.IKey,
                       table: dynamodb.ITable, table_key: kms.IKey,
                       upload_prefixes: Sequence[str],
                       download_prefixes: Sequence[str],
                       restore_prefixes: Sequence[str],
                       scan_gated_prefixes: Sequence[str] = ()) -> list[iam.PolicyStatement]:
    """Everything the presign function may do, besides writing its own logs."""
    gate = [iam.PolicyStatement(
        sid="ReadScanVerdictTags",
        actions=["s3:GetObjectTagging", "s3:GetObjectVersionTagging"],
        resources=object_arns(bucket_name, scan_gated_prefixes),
    )] if scan_gated_prefixes else []
    restore = [iam.PolicyStatement(
        sid="RestoreFromArchiveTiers",
        actions=["s3:RestoreObject"],
        resources=object_arns(bucket_name, restore_prefixes),
    )] if restore_prefixes else []
    return [*gate, *restore,
        iam.PolicyStatement(
            sid="UploadUnderUploadKindPrefixes",
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resources=object_arns(bucket_name, upload_prefixes),
        ),
        iam.PolicyStatement(
            sid="ReadUnderAssetPrefixes",
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=object_arns(bucket_name, download_prefixes),
        ),
        iam.PolicyStatement(
            sid="ListBucketFor404s",  # HeadObject of a missing key: 404, not 403
            actions=["s3:ListBucket"],
            resources=[bucket_arn(bucket_name)],
        ),
        iam.PolicyStatement(
            sid="UseAssetsKeyViaS3",
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[bucket_key.key_arn],
            conditions=only_via("s3", region),
        ),
        iam.PolicyStatement(
            sid="ReadDedupIndex",
            actions=["dynamodb:GetItem"],
            resources=[table.table_arn],
        ),
        iam.PolicyStatement(
            sid="DecryptDedupIndexViaDynamoDB",
            actions=["kms:Decrypt"],
            resources=[table_key.key_arn],
            conditions=only_via("dynamodb", region),
        ),
    ]


class PresignApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, function_name: str,
                 api_name: str, access_log_group_name: str, upload_api: UploadApiConfig,
                 bucket_name: str, bucket_key: kms.IKey, table: dynamodb.ITable,
                 table_key: kms.IKey, scan_gated_prefixes: Sequence[str] = (),
                 scan_holds_unscanned: bool = True, archive_tiers: bool = True) -> None:
        """``function_name``, ``api_name`` and ``access_log_group_name`` are physical names
        from the config; ``upload_api`` is the API's own settings (kinds, throttle,
        authorizer); ``bucket_name`` is the assets bucket's physical name (ARNs are written
        from it); ``bucket_key``, ``table`` and ``table_key`` come from the Assets stack;
        ``scan_gated_prefixes``: where only a clean malware verdict releases an object
        (empty: the gate is off); ``scan_holds_unscanned=False``: there, a version without a
        verdict is released too (objects stored before the gate, while they are scanned);
        ``archive_tiers``: whether the bucket moves objects into Intelligent-Tiering's archive
        tiers (only then may the function ask S3 to restore one: the replica bucket has none)."""
        super().__init__(scope, construct_id)
        self._kinds = tuple(upload_api.kinds)
        self.function = self._presign_function(
            function_name, upload_api, bucket_name=bucket_name, bucket_key=bucket_key,
            table=table, table_key=table_key, scan_gated_prefixes=scan_gated_prefixes,
            scan_holds_unscanned=scan_holds_unscanned, archive_tiers=archive_tiers)
        self.authorizer = self._authorizer(function_name, upload_api)
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=api_name,
            description=f"Presigned uploads and downloads of {bucket_name}",
            create_default_stage=False,  # the stage below: throttled, access-logged
        )
        integration = integrations.HttpLambdaIntegration("Presign", self.function.function)
        self.routes = []
        for path, method in ROUTES:
            self.routes += self.api.add_routes(path=path, methods=[method],
                                               integration=integration,
                                               authorizer=self.authorizer)
        self.stage = self._default_stage(access_log_group_name, upload_api)
        self.url = self.stage.url

    def monitored_function(self) -> MonitoredFunction:
        return MonitoredFunction("Presign", self.function.function, self.function.timeout,
                                 handled_faults=(METRICS_NAMESPACE, self.function.name))

    def metric_alarms(self, m: MonitoringConfig) -> list[MetricAlarm]:
        """The dedup index not answering the upload API for ``sustained_periods``: uploads go
        on without deduplication, so nothing else fails (the function's EMF series, one per
        upload kind, dimensions Powertools' ``service`` and ``kind``)."""
        period = Duration.minutes(m.alarm_period_minutes)
        failed = [cw.Metric(namespace=METRICS_NAMESPACE, metric_name=DEDUP_FAILED_METRIC,
                            dimensions_map={"service": self.function.name, "kind": kind},
                            statistic="Sum", period=period, label=kind) for kind in self._kinds]
        return [MetricAlarm(
            group="Presign", name="Dedup-Unavailable", section="Uploads (HTTP API)",
            metric=summed(failed, label="Dedup lookups that failed", period=period),
            threshold=0, periods=m.sustained_periods,
            what=f"The dedup index did not answer the upload API for {m.sustained_periods} "
                 "periods: uploads are issued without deduplication.",
            runbook="Check DynamoDB's health in this Region and the table's throttling; the "
                    "hasher deduplicates what was uploaded meanwhile once it answers.")]

    def add_write_health(self, *, function_name: str, bucket_name: str, bucket_key: kms.IKey,
                         log_retention_days: int) -> EstateFunction:
        """``GET /health-<stack id>`` (no authorizer, see the module docstring), its path in
        ``self.health_path``: a PutObject of a new key per probe,
        ``ops/write-health/<region>/<UTC minute>/<random>``, into ``bucket_name``
        (estate_handlers.write_health)."""
        region = Stack.of(self).region
        probe = f"{bucket_arn(bucket_name)}/{WRITE_HEALTH_PREFIX}{region}/*"
        self.health = EstateFunction(
            self, "WriteHealth", name=function_name,
            description=f"Answers Route 53: can {region} take a write into {bucket_name}?",
            handler=HEALTH_HANDLER, memory_size=256, timeout=Duration.seconds(4),
            environment={HEALTH_BUCKET_ENV: bucket_name},
            reserved_concurrency=HEALTH_RESERVED_CONCURRENCY,
            log_retention_days=log_retention_days,
            statements=[
                iam.PolicyStatement(sid="WriteTheProbeObject", actions=["s3:PutObject"],
                                    resources=[probe]),
                iam.PolicyStatement(
                    sid="EncryptTheProbeViaS3", actions=["kms:GenerateDataKey"],
                    resources=[bucket_key.key_arn],
                    conditions=only_via("s3", region)),
            ])
        acknowledge(self.health.policy, {
            f"AwsSolutions-IAM5[Resource::{probe}]":
                "Every probe writes a key of its own (its UTC minute and a random name), so each "
                "is a real write, as an upload's; only s3:PutObject, only under this region's "
                "ops/write-health/ prefix, which both buckets expire after a day.",
        })
        acknowledge(self.health.function, {
            "NIST.800.53.R5-LambdaDLQ":
                "Invoked only synchronously by the HTTP API for Route 53's probes: a failure is "
                "the answer (503); a function DLQ only applies to asynchronous invocations.",
        })
        # The stack's UUID (the last part of its id): known when CloudFormation creates the
        # stack, to the health check in the same template, and to nobody outside the account.
        self.health_path = HEALTH_PATH_PREFIX + Fn.select(2, Fn.split("/", Aws.STACK_ID))
        route = apigwv2.HttpRoute(
            self, "HealthRoute", http_api=self.api,
            route_key=apigwv2.HttpRouteKey.with_(self.health_path, apigwv2.HttpMethod.GET),
            integration=integrations.HttpLambdaIntegration("WriteHealth", self.health.function),
            authorizer=apigwv2.HttpNoneAuthorizer())
        acknowledge(route, {
            "AwsSolutions-APIG4":
                "Route 53 health checks cannot sign requests. The route's path ends in the "
                "stack's UUID, unknown outside the account; it takes no input, returns only "
                "ok/unavailable, and its function can only create probe objects under its "
                "region's ops/write-health/ prefix (at most one a second per execution, 5 "
                "executions, expired after a day).",
        })
        return self.health

    def monitored_health(self) -> MonitoredFunction:
        return MonitoredFunction("WriteHealth", self.health.function, self.health.timeout)

    def _presign_function(self, name: str, upload_api: UploadApiConfig, *, bucket_name: str,
                          bucket_key: kms.IKey, table: dynamodb.ITable, table_key: kms.IKey,
                          scan_gated_prefixes: Sequence[str],
                          scan_holds_unscanned: bool, archive_tiers: bool) -> EstateFunction:
        uploads = upload_prefixes(upload_api)
        downloads = list(ASSET_PREFIXES)
        restores = list(ARCHIVE_TIER_PREFIXES.values()) if archive_tiers else []
        function = EstateFunction(
            self,
            "Presign",
            name=name,
            description="Issues presigned upload/download URLs for the assets bucket",
            handler=HANDLER,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={
                "ASSETS_BUCKET_NAME": bucket_name,
                TABLE_ENV: table.table_name,
                "UPLOAD_POLICY": upload_api.policy_json(),
                SCAN_GATED_PREFIXES_ENV: ",".join(scan_gated_prefixes),
                **({} if scan_holds_unscanned else {SCAN_HOLDS_UNSCANNED_ENV: "false"}),
            },
            reserved_concurrency=upload_api.presign_reserved_concurrency,
            log_retention_days=upload_api.log_retention_days,
            statements=presign_statements(
                region=Stack.of(self).region, bucket_name=bucket_name, bucket_key=bucket_key,
                table=table, table_key=table_key, upload_prefixes=uploads,
                download_prefixes=downloads,
                restore_prefixes=restores,
                scan_gated_prefixes=list(scan_gated_prefixes)),
        )
        acknowledge(function.function, {
            "NIST.800.53.R5-LambdaDLQ":
                "Invoked only synchronously by the HTTP API: an error goes back to the caller "
                "as a 5xx; a function DLQ only applies to asynchronous invocations.",
        })
        reasons = {}
        for prefix in dict.fromkeys([*uploads, *downloads, *restores, *scan_gated_prefixes]):
            can = []
            if prefix in uploads:
                can.append("upload (PutObject, multipart abort)")
            if prefix in downloads:
                can.append("read (GetObject, GetObjectVersion)")
            if prefix in restores:
                can.append("restore from the archive tiers (RestoreObject)")
            if prefix in scan_gated_prefixes:
                can.append("read the malware verdict tag (GetObject(Version)Tagging)")
            reasons[f"AwsSolutions-IAM5[Resource::{bucket_arn(bucket_name)}/{prefix}*]"] = (
                f"Presigned URLs and the handler {' and '.join(can)} under {prefix} only; "
                "the server picks a "
                "new random key per upload and the handler checks every download key, so "
                "only a prefix wildcard can name them.")
        acknowledge(function.policy, reasons)
        return function

    @staticmethod
    def _authorizer(function_name: str,
                    upload_api: UploadApiConfig) -> apigwv2.IHttpRouteAuthorizer:
        """Every route authorized: IAM unless a JWT issuer is configured."""
        if upload_api.jwt_issuer:
            return authorizers.HttpJwtAuthorizer(
                "Jwt", upload_api.jwt_issuer, jwt_audience=list(upload_api.jwt_audience),
                authorizer_name=f"{function_name}-jwt")
        return authorizers.HttpIamAuthorizer()

    def _default_stage(self, access_log_group_name: str,
                       upload_api: UploadApiConfig) -> apigwv2.HttpStage:
        """The ``$default`` stage: throttled, one JSON access-log line per request."""
        self.access_logs = EncryptedLogGroup(
            self, "AccessLogs", log_group_name=access_log_group_name,
            retention_days=upload_api.log_retention_days,
            purpose="access logs of the upload API")
        stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=upload_api.throttle_rate_per_second,
                                              burst_limit=upload_api.throttle_burst),
        )
        cfn_stage: apigwv2.CfnStage = stage.node.default_child  # type: ignore[assignment]
        cfn_stage.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_logs.log_group.log_group_arn,
            format=access_log_format(),
        )
        return stage
