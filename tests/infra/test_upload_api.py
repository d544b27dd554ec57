"""The upload API: an HTTP API in us-east-1 whose three routes are all authorized
(IAM by default, JWT when an issuer is configured), throttled and access-logged, in front of
a Python 3.14 arm64 presign function whose role can sign exactly the uploads and downloads
the upload policy allows, nothing more."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from aws_cdk import App
from helpers import as_list, bucket_named, key_of_bucket, only, resources

from infra.config import ARCHIVE_TIER_PREFIXES, ASSET_PREFIXES, ConfigError, UploadApiConfig
from infra.constructs.function import HANDLER_PACKAGES_ID
from infra.environments import ENVIRONMENTS, dev
from infra.nag import apply_policy_packs
from infra.stage import EstateStage

POWERTOOLS_ENV = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}


ENVS = ("dev", "prod")
HANDLER = "estate_handlers.presign.handler"
# The health route's key ends in the stack's UUID (tests/infra/test_multi_region_writes.py).
STACK_UUID = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}
HEALTH_ROUTE = {"Fn::Join": ["", ["GET /health-", STACK_UUID]]}
ROUTE_KEYS = {"POST /uploads", "POST /uploads/complete", "GET /downloads",
              "POST /downloads/restore"}
ISSUER = "https://auth.justkalm.example/"
CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"  # the CLI's feature flags
AUDIENCE = ("uploads-api",)


@pytest.fixture(params=ENVS)
def env(request):
    return request.param


def _cfg(env):
    return ENVIRONMENTS[env]()


def _api(estate, env) -> dict:
    return estate.template_json(env, "UploadApi")


class _JwtVariant:
    """dev with a JWT issuer configured, synthesized on its own (policy packs applied)."""

    def __init__(self, outdir: str) -> None:
        base = dev()
        self.cfg = dataclasses.replace(base, upload_api=dataclasses.replace(
            base.upload_api, jwt_issuer=ISSUER, jwt_audience=AUDIENCE))
        app = App(outdir=outdir, context=json.loads(CDK_JSON.read_text())["context"])
        self.stage = EstateStage(app, self.cfg)
        apply_policy_packs(app)
        assembly = app.synth()  # raises on any unacknowledged policy finding
        self.template = assembly.get_nested_assembly("assembly-dev").get_stack_artifact(
            self.stage.upload_api.artifact_id).template


@pytest.fixture(scope="module")
def jwt_variant(tmp_path_factory) -> _JwtVariant:
    return _JwtVariant(str(tmp_path_factory.mktemp("cdk.out.jwt")))


# ------------------------------------------------------------------- template readers

def _function(template: dict) -> tuple[str, dict]:
    """The presign function (the stack also has the write-health function behind GET /health,
    tests/infra/test_multi_region_writes.py)."""
    [found] = [(k, f) for k, f in resources(template, "AWS::Lambda::Function").items()
               if f["Properties"]["Handler"] == "estate_handlers.presign.handler"]
    return found


def _routes(template: dict) -> dict[str, dict]:
    """The presign routes: every route but the unauthenticated health route."""
    return {r["Properties"]["RouteKey"]: r["Properties"]
            for r in resources(template, "AWS::ApiGatewayV2::Route").values()
            if r["Properties"]["RouteKey"] != HEALTH_ROUTE}


def _stage(template: dict) -> dict:
    return only(template, "AWS::ApiGatewayV2::Stage")[1]["Properties"]


def _exports(estate, env) -> dict[str, object]:
    """What the Assets stack hands over: by export name (strong references) and by output
    name (weak references, ``Fn::GetStackOutput``, the default cdk.json selects)."""
    outputs = estate.template_json(env, "Assets").get("Outputs", {})
    return {**{o["Export"]["Name"]: o["Value"] for o in outputs.values() if "Export" in o},
            **{name: o["Value"] for name, o in outputs.items()}}


def _name(value, exports: dict) -> str:
    """A resource ARN as a comparable string: literals as is, GetAtt as <Id.Attr>, an
    import from the Assets stack as the Assets resource it exports."""
    if isinstance(value, str):
        return value
    if "Fn::ImportValue" in value:
        return "Assets:" + _name(exports[value["Fn::ImportValue"]], exports)
    if "Fn::GetStackOutput" in value:
        assert value["Fn::GetStackOutput"]["StackName"].endswith("-Assets"), value
        return "Assets:" + _name(exports[value["Fn::GetStackOutput"]["OutputName"]], exports)
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if "Ref" in value:
        return f"<{value['Ref']}>"
    raise AssertionError(f"unexpected resource value {value}")


def _role_id(template: dict) -> str:
    return _function(template)[1]["Properties"]["Role"]["Fn::GetAtt"][0]


def _policies_of_role(template: dict, role_id: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items()
            if v["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
            and {"Ref": role_id} in v["Properties"].get("Roles", [])}


def _statements_by_sid(template: dict, exports: dict) -> dict[str, tuple]:
    policies = _policies_of_role(template, _role_id(template))
    assert len(policies) == 1, sorted(policies)
    (policy,) = policies.values()
    out = {}
    for st in policy["Properties"]["PolicyDocument"]["Statement"]:
        assert st["Effect"] == "Allow"
        out[st["Sid"]] = (frozenset(as_list(st["Action"])),
                          frozenset(_name(r, exports) for r in as_list(st["Resource"])),
                          json.dumps(st.get("Condition"), sort_keys=True))
    return out


# ------------------------------------------------------------------------- the stack

def test_upload_api_is_in_us_east_1_and_deploys_after_assets(estate, env):
    stack = estate.stack(env, "UploadApi")
    assert stack.region == "us-east-1"
    assert "Assets" in stack.dependency_ids


def test_endpoint_url_is_an_output(estate, env):
    template = _api(estate, env)
    api_id, _ = only(template, "AWS::ApiGatewayV2::Api")
    # ExportsOutput*/PublishOutput* are CDK's cross-stack references (Monitoring's), not for users.
    output = template["Outputs"]["UploadApiUrl"]
    assert output["Value"] == {"Fn::Join": ["", [
        "https://", {"Ref": api_id}, ".execute-api.us-east-1.", {"Ref": "AWS::URLSuffix"}, "/"]]}


# ---------------------------------------------------------------------------- routes

def test_api_is_an_http_api_with_exactly_the_three_routes(estate, env):
    template = _api(estate, env)
    assert only(template, "AWS::ApiGatewayV2::Api")[1]["Properties"]["ProtocolType"] == "HTTP"
    assert set(_routes(template)) == ROUTE_KEYS


def test_every_route_requires_iam_authorization_when_no_issuer_is_configured(estate, env):
    assert _cfg(env).upload_api.jwt_issuer is None
    template = _api(estate, env)
    assert {k: r["AuthorizationType"] for k, r in _routes(template).items()} == {
        k: "AWS_IAM" for k in ROUTE_KEYS}
    assert not resources(template, "AWS::ApiGatewayV2::Authorizer")


def test_every_route_requires_the_jwt_authorizer_when_an_issuer_is_configured(jwt_variant):
    template = jwt_variant.template
    authorizer_id, authorizer = only(template, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    assert authorizer["Properties"]["JwtConfiguration"] == {
        "Issuer": ISSUER, "Audience": list(AUDIENCE)}
    assert authorizer["Properties"]["IdentitySource"] == ["$request.header.Authorization"]
    routes = _routes(template)
    assert set(routes) == ROUTE_KEYS
    for key, route in routes.items():
        assert route["AuthorizationType"] == "JWT", key
        assert route["AuthorizerId"] == {"Ref": authorizer_id}, key


def test_every_route_goes_to_the_presign_function(estate, env):
    template = _api(estate, env)
    fn_id, _ = _function(template)
    [(integration_id, integration)] = [
        (k, i) for k, i in resources(template, "AWS::ApiGatewayV2::Integration").items()
        if i["Properties"]["IntegrationUri"] == {"Fn::GetAtt": [fn_id, "Arn"]}]
    assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    for route in _routes(template).values():
        assert route["Target"] == {"Fn::Join": ["", ["integrations/", {"Ref": integration_id}]]}


def test_only_this_api_may_invoke_the_function(estate, env):
    template = _api(estate, env)
    api_id, _ = only(template, "AWS::ApiGatewayV2::Api")
    permissions = resources(template, "AWS::Lambda::Permission").values()
    assert len(permissions) == len(ROUTE_KEYS) + 1  # and GET /health's function
    for permission in permissions:
        props = permission["Properties"]
        assert props["Principal"] == "apigateway.amazonaws.com"
        assert {"Ref": api_id} in props["SourceArn"]["Fn::Join"][1]


# ----------------------------------------------------------------------------- stage

def test_default_stage_is_throttled_as_configured(estate, env):
    api_cfg = _cfg(env).upload_api
    stage = _stage(_api(estate, env))
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == api_cfg.throttle_rate_per_second
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == api_cfg.throttle_burst


def test_access_log_is_one_json_object_per_request_with_who_what_and_how_it_went(estate, env):
    fields = json.loads(_stage(_api(estate, env))["AccessLogSettings"]["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["ip"] == "$context.identity.sourceIp"
    assert fields["caller"] == "$context.identity.caller"
    assert fields["principal"] == "$context.identity.userArn"
    assert fields["routeKey"] == "$context.routeKey"
    assert fields["status"] == "$context.status"
    assert fields["latency"] == "$context.responseLatency"
    assert fields["integrationError"] == "$context.integrationErrorMessage"


def test_access_log_goes_to_an_encrypted_retained_log_group(estate, env):
    template = _api(estate, env)
    destination = _stage(template)["AccessLogSettings"]["DestinationArn"]
    group = template["Resources"][destination["Fn::GetAtt"][0]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"
    assert group["Properties"]["RetentionInDays"] == 365
    key = template["Resources"][group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]]
    assert key["Properties"]["EnableKeyRotation"] is True


# -------------------------------------------------------------------------- function

def test_function_is_python_3_14_on_arm64_with_512_mb_and_10_s(estate, env):
    props = _function(_api(estate, env))[1]["Properties"]
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 512
    assert props["Timeout"] == 10
    assert props["Handler"] == HANDLER


def test_function_timeout_is_well_under_the_http_api_integration_limit(estate, env):
    assert _function(_api(estate, env))[1]["Properties"]["Timeout"] <= 30 // 2


def test_function_has_no_half_configured_tracing(estate, env):
    assert "TracingConfig" not in _function(_api(estate, env))[1]["Properties"]


def test_function_runs_with_its_stacks_handler_packages_layer(estate, env):
    template = _api(estate, env)
    [ref] = _function(template)[1]["Properties"]["Layers"]
    assert ref["Ref"].startswith(HANDLER_PACKAGES_ID)
    assert template["Resources"][ref["Ref"]]["Type"] == "AWS::Lambda::LayerVersion"


def test_function_reserves_the_configured_concurrency(estate, env):
    props = _function(_api(estate, env))[1]["Properties"]
    assert props["ReservedConcurrentExecutions"] == \
        _cfg(env).upload_api.presign_reserved_concurrency


def test_function_logs_to_its_own_encrypted_log_group(estate, env):
    template = _api(estate, env)
    group_id = _function(template)[1]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    group = template["Resources"][group_id]
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"
    assert "KmsKeyId" in group["Properties"]


def test_upload_policy_env_is_exactly_the_configs_policy_json(estate, env):
    variables = _function(_api(estate, env))[1]["Properties"]["Environment"]["Variables"]
    assert variables["UPLOAD_POLICY"] == _cfg(env).upload_api.policy_json()


def test_function_env_names_the_assets_bucket_and_the_dedup_table(estate, env):
    variables = _function(_api(estate, env))[1]["Properties"]["Environment"]["Variables"]
    table_id, _ = only(estate.template_json(env, "Assets"), "AWS::DynamoDB::Table")
    assert set(variables) == {"ASSETS_BUCKET_NAME", "DEDUP_TABLE_NAME", "UPLOAD_POLICY",
                              "SCAN_GATED_PREFIXES", *POWERTOOLS_ENV}
    assert variables["ASSETS_BUCKET_NAME"] == _cfg(env).assets_bucket_name
    assert _name(variables["DEDUP_TABLE_NAME"], _exports(estate, env)) == f"Assets:<{table_id}>"


def test_code_is_a_plain_zip_asset_with_no_docker_image(estate, env):
    stack = estate.stack(env, "UploadApi")
    manifest = json.loads((stack.directory / f"{stack.artifact_id}.assets.json")
                          .read_text())
    assert manifest.get("dockerImages", {}) == {}
    code = _function(_api(estate, env))[1]["Properties"]["Code"]
    asset = manifest["files"][code["S3Key"].removesuffix(".zip")]
    assert asset["source"]["packaging"] == "zip"


# ------------------------------------------------------------------------------ role

def test_role_holds_one_customer_managed_policy_and_nothing_else(estate, env):
    template = _api(estate, env)
    role_id = _role_id(template)
    role = template["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}}]
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    assert [p["Type"] for p in _policies_of_role(template, role_id).values()] == [
        "AWS::IAM::ManagedPolicy"]


def test_role_can_do_exactly_what_presigning_needs(estate, env):
    cfg = _cfg(env)
    template = _api(estate, env)
    assets = estate.template_json(env, "Assets")
    bucket = f"arn:aws:s3:::{cfg.assets_bucket_name}"
    _, assets_bucket = bucket_named(assets, cfg.assets_bucket_name)
    assets_key_id, _ = key_of_bucket(assets, assets_bucket)
    table_id, table = only(assets, "AWS::DynamoDB::Table")
    table_key_id = table["Properties"]["SSESpecification"]["KMSMasterKeyId"]["Fn::GetAtt"][0]
    log_group_id = _function(template)[1]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    uploads = {kind.prefix for kind in cfg.upload_api.kinds.values()}

    def via(service):
        return json.dumps({"StringEquals": {
            "kms:ViaService": f"{service}.us-east-1.amazonaws.com"}}, sort_keys=True)

    statements = _statements_by_sid(template, _exports(estate, env))
    gated = cfg.upload_gate.gated_prefixes
    # With the upload gate on, the API reads verdict tags (never bytes) under its prefixes.
    gate = {"ReadScanVerdictTags": (
        frozenset({"s3:GetObjectTagging", "s3:GetObjectVersionTagging"}),
        frozenset(f"{bucket}/{p}*" for p in gated), "null")} if gated else {}
    assert statements == {
        **gate,
        "UploadUnderUploadKindPrefixes": (
            frozenset({"s3:PutObject", "s3:AbortMultipartUpload"}),
            frozenset(f"{bucket}/{p}*" for p in uploads), "null"),
        "ListBucketFor404s": (frozenset({"s3:ListBucket"}), frozenset({bucket}), "null"),
        "ReadUnderAssetPrefixes": (
            frozenset({"s3:GetObject", "s3:GetObjectVersion"}),
            frozenset(f"{bucket}/{p}*" for p in ASSET_PREFIXES), "null"),
        "UseAssetsKeyViaS3": (
            frozenset({"kms:GenerateDataKey", "kms:Decrypt"}),
            frozenset({f"Assets:<{assets_key_id}.Arn>"}), via("s3")),
        "ReadDedupIndex": (
            frozenset({"dynamodb:GetItem"}), frozenset({f"Assets:<{table_id}.Arn>"}), "null"),
        "DecryptDedupIndexViaDynamoDB": (
            frozenset({"kms:Decrypt"}), frozenset({f"Assets:<{table_key_id}.Arn>"}),
            via("dynamodb")),
        "RestoreFromArchiveTiers": (
            frozenset({"s3:RestoreObject"}),
            frozenset(f"{bucket}/{p}*" for p in ARCHIVE_TIER_PREFIXES.values()), "null"),
        "WriteOwnLogs": (
            frozenset({"logs:CreateLogStream", "logs:PutLogEvents"}),
            frozenset({f"<{log_group_id}.Arn>"}), "null"),
    }


def _gated_presign(prefixes) -> dict:
    """A PresignApi alone on a fresh stack, with the scan gate on ``prefixes``."""
    from aws_cdk import Environment, Stack
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_kms as kms
    from aws_cdk.assertions import Template

    from infra.constructs.presign_api import PresignApi
    stack = Stack(App(), "Gated", env=Environment(account="111111111111", region="us-east-1"))
    key = kms.Key.from_key_arn(stack, "Key", "arn:aws:kms:us-east-1:111111111111:key/k")
    table = dynamodb.Table.from_table_attributes(
        stack, "Table", table_arn="arn:aws:dynamodb:us-east-1:111111111111:table/t")
    cfg = dev()
    PresignApi(stack, "Api", function_name=cfg.presign_name, api_name=cfg.upload_api_name,
               access_log_group_name=cfg.upload_api_access_log_group_name,
               upload_api=cfg.upload_api, bucket_name="acme-assets-dev", bucket_key=key,
               table=table, table_key=key, scan_gated_prefixes=prefixes)
    return Template.from_stack(stack).to_json()


def test_scan_gate_reads_verdict_tags_exactly_under_the_gated_prefixes():
    gated = ("user-content/uploads/", "brands/media/")
    template = _gated_presign(gated)
    (_, function), = [(i, r) for i, r in template["Resources"].items()
                      if r["Type"] == "AWS::Lambda::Function"]
    assert function["Properties"]["Environment"]["Variables"]["SCAN_GATED_PREFIXES"] == \
        ",".join(gated)
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    (tags,) = [st for st in policy["Properties"]["PolicyDocument"]["Statement"]
               if st.get("Sid") == "ReadScanVerdictTags"]
    assert set(as_list(tags["Action"])) == {"s3:GetObjectTagging", "s3:GetObjectVersionTagging"}
    assert set(as_list(tags["Resource"])) == {f"arn:aws:s3:::acme-assets-dev/{p}*" for p in gated}


def test_scan_gated_prefixes_are_the_upload_gates_and_empty_when_it_is_off(estate, env):
    variables = _function(_api(estate, env))[1]["Properties"]["Environment"]["Variables"]
    assert variables["SCAN_GATED_PREFIXES"] == ",".join(_cfg(env).upload_gate.gated_prefixes)
    assert bool(variables["SCAN_GATED_PREFIXES"]) == _cfg(env).upload_gate.enabled


def test_every_upload_kind_prefix_is_readable_too(estate, env):
    # dedup hits and multipart completion HeadObject the key they are about
    cfg = _cfg(env)
    for kind in cfg.upload_api.kinds.values():
        assert kind.prefix in ASSET_PREFIXES


def test_role_has_no_wildcard_action_and_no_star_resource(estate, env):
    statements = _statements_by_sid(_api(estate, env), _exports(estate, env))
    for sid, (actions, resources_, _) in statements.items():
        assert not any(a == "*" or a.endswith(":*") for a in actions), sid
        assert "*" not in resources_, sid


def test_role_can_neither_delete_objects_nor_write_the_dedup_index(estate, env):
    statements = _statements_by_sid(_api(estate, env), _exports(estate, env))
    actions = set().union(*(s[0] for s in statements.values()))
    assert not any(a.startswith("s3:Delete") for a in actions)
    assert not actions & {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}


# ---------------------------------------------------------------------------- config

def test_a_jwt_issuer_must_be_an_https_url():
    with pytest.raises(ConfigError, match="upload_api: jwt_issuer"):
        UploadApiConfig(jwt_issuer="http://auth.example", jwt_audience=AUDIENCE)


def test_a_jwt_issuer_needs_an_audience():
    with pytest.raises(ConfigError, match="upload_api: jwt_audience"):
        UploadApiConfig(jwt_issuer=ISSUER)


def test_an_audience_without_an_issuer_is_rejected():
    with pytest.raises(ConfigError, match="upload_api: jwt_audience"):
        UploadApiConfig(jwt_audience=AUDIENCE)


@pytest.mark.parametrize("field", ["throttle_rate_per_second", "throttle_burst",
                                   "presign_reserved_concurrency"])
def test_non_positive_api_limits_are_rejected_naming_the_field(field):
    with pytest.raises(ConfigError, match=f"upload_api: {field}"):
        UploadApiConfig(**{field: 0})
