"""Negotiated image URLs (/i/*): the CloudFront Function under Node, and what the synth wires.

The function's behaviour is tested in ``edge_functions/image_url.test.mjs`` (Node's test runner,
real browser Accept strings, widths and DPRs around every stored width, hostile paths and
query strings), run here on the code exactly as the synth generates it for each environment.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from helpers import only

from infra.config import PROCESSED, THUMBNAILS, RenditionsConfig
from infra.constructs.image_urls import (
    CACHE_CONTROL,
    ERROR_CACHE_CONTROL,
    IMAGE_URL_PATH_PATTERN,
    MAX_FUNCTION_BYTES,
    ORIGIN_CACHE_CONTROL_PARAMETER,
    image_url_code,
    rendition_table,
)

NODE_TESTS = Path(__file__).with_name("edge_functions") / "image_url.test.mjs"
NODE_TEST_COUNT = len(re.findall(r"^test\(", NODE_TESTS.read_text(), re.MULTILINE))
each_env = pytest.mark.parametrize("env", ["dev", "prod"])


def _template(estate, env) -> dict:
    return estate.template_json(env, "Cdn")


def _distribution_config(template: dict) -> dict:
    _, dist = only(template, "AWS::CloudFront::Distribution")
    return dist["Properties"]["DistributionConfig"]


def _image_behaviour(template: dict) -> dict:
    [behaviour] = [b for b in _distribution_config(template)["CacheBehaviors"]
                   if b["PathPattern"] == IMAGE_URL_PATH_PATTERN]
    return behaviour


def _resource(template: dict, ref: dict) -> dict:
    return template["Resources"][ref["Ref"] if "Ref" in ref else ref["Fn::GetAtt"][0]]


def _function_code(template: dict) -> str:
    association = _image_behaviour(template)["FunctionAssociations"][0]
    return _resource(template, association["FunctionARN"])["Properties"]["FunctionCode"]


def run_node_tests(code: str, settings, tmp_path: Path) -> subprocess.CompletedProcess:
    function = tmp_path / "image_url.js"
    function.write_text(code)
    widths = {"widths": list(settings.widths), "thumbnail": list(settings.thumbnail_widths),
              "formats": list(settings.formats)}
    env = {**os.environ, "IMAGE_URL_FUNCTION": str(function), "IMAGE_URL_WIDTHS": json.dumps(widths),
           "IMAGE_URL_CACHE_CONTROL": CACHE_CONTROL}
    return subprocess.run(["node", "--test", "--test-reporter=tap", str(NODE_TESTS)],
                          env=env, capture_output=True, text=True, timeout=120)


@each_env
def test_the_function_passes_its_node_tests_as_synthesized(estate, env, tmp_path):
    settings = estate.stages[env].cfg.renditions.settings()
    result = run_node_tests(_function_code(_template(estate, env)), settings, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and f"# pass {NODE_TEST_COUNT}" in result.stdout, \
        result.stdout[-1500:]


def test_node_tests_fail_when_the_function_picks_wrongly(tmp_path):
    """The Node suite can fail: a function that ignores Accept (always JPEG) is caught."""
    settings = RenditionsConfig().settings()
    code = image_url_code(settings)
    choice = "accepted[R.formats[f].type] === true"
    assert choice in code
    broken = code.replace(choice, "false")
    result = run_node_tests(broken, settings, tmp_path)
    assert result.returncode != 0
    assert "each browser gets the best format it announces" in result.stdout


def test_a_different_rendition_set_reaches_the_function(tmp_path):
    """Widths, formats and the key layout come from the pipeline's Settings, not the JS."""
    settings = RenditionsConfig(processed_widths=(1600, 1000), thumbnail_widths=(480, 240, 120),
                                formats=("webp", "jpeg")).settings()
    table = rendition_table(settings)
    assert [w["width"] for w in table["widths"]] == [120, 240, 480, 1000, 1600]
    assert table["formats"] == [{"name": "webp", "type": "image/webp"}]
    assert table["widths"][0]["keys"]["webp"] == [f"/{THUMBNAILS}", "/w120.webp"]
    assert table["widths"][-1]["keys"]["jpeg"] == [f"/{PROCESSED}", "/w1600.jpg"]
    result = run_node_tests(image_url_code(settings), settings, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"# pass {NODE_TEST_COUNT}" in result.stdout


@each_env
def test_the_function_fits_cloudfront_functions_size_quota(estate, env):
    code = _function_code(_template(estate, env))
    assert len(code.encode()) <= MAX_FUNCTION_BYTES
    assert "var R = __RENDITIONS__;" not in code  # the declarations are filled in
    assert f"var CACHE_CONTROL = {json.dumps(CACHE_CONTROL)};" in code
    # ... once: the comment that names the placeholder does not carry the table too.
    table = code.split("var R = ", 1)[1].split(";\n", 1)[0]
    assert len(table) > 100 and code.count(table) == 1


def test_a_rendition_set_too_large_for_the_quota_fails_the_synth():
    widths = tuple(range(16, 16 + 60 * 40, 40))
    settings = RenditionsConfig(processed_widths=widths[:30], thumbnail_widths=widths[30:]).settings()
    with pytest.raises(ValueError, match="10240-byte quota"):
        image_url_code(settings)


@each_env
def test_image_behaviour_runs_its_own_function_on_viewer_request(estate, env):
    template = _template(estate, env)
    behaviour = _image_behaviour(template)
    [association] = behaviour["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function = _resource(template, association["FunctionARN"])
    assert function["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert function["Properties"]["AutoPublish"] is True
    config = _distribution_config(template)
    [deny] = config["DefaultCacheBehavior"]["FunctionAssociations"]
    assert deny["FunctionARN"] != association["FunctionARN"]
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["TargetOriginId"] == config["DefaultCacheBehavior"]["TargetOriginId"]


@each_env
def test_image_cache_key_is_the_rewritten_uri_and_the_functions_cache_control_only(estate, env):
    """No header or cookie, and of the query string only the parameter the function sets
    (it replaces the viewer's): S3 gets it, and /i/ answers are cached apart from the direct
    URLs' year-long ones."""
    template = _template(estate, env)
    policy = _resource(template, _image_behaviour(template)["CachePolicyId"])["Properties"]
    params = policy["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"]
    assert params["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert params["QueryStringsConfig"] == {"QueryStringBehavior": "whitelist",
                                            "QueryStrings": [ORIGIN_CACHE_CONTROL_PARAMETER]}
    assert params["CookiesConfig"] == {"CookieBehavior": "none"}
    assert "OriginRequestPolicyId" not in _image_behaviour(template)
    assert f"'{ORIGIN_CACHE_CONTROL_PARAMETER}'" in _function_code(template)


@each_env
def test_the_edge_keeps_image_answers_a_day_so_browsers_get_most_of_their_week(estate, env):
    # A browser subtracts the Age CloudFront sends (time in its caches, edge, regional edge
    # cache and Origin Shield: up to three times the max TTL) from the week of max-age: a copy
    # kept at the edge for a week or more would reach browsers stale, every view revalidating.
    template = _template(estate, env)
    config = _resource(template, _image_behaviour(template)["CachePolicyId"])["Properties"][
        "CachePolicyConfig"]
    day = 86400
    assert (config["MinTTL"], config["DefaultTTL"], config["MaxTTL"]) == (0, day, day)
    browser_max_age = int(CACHE_CONTROL.split("max-age=")[1].split(",")[0])
    assert browser_max_age - 3 * config["MaxTTL"] >= 4 * day


def test_the_browser_cache_control_needs_no_escaping_in_a_query_string():
    # The function hands it to S3 as a query-string value, as written: only characters that
    # read the same percent-encoded or not, and S3 must still see a week, public.
    assert re.fullmatch(r"[A-Za-z0-9,=-]+", CACHE_CONTROL), CACHE_CONTROL
    directives = dict(d.partition("=")[::2] for d in CACHE_CONTROL.split(","))
    assert directives == {"public": "", "max-age": "604800", "stale-while-revalidate": "86400"}


@each_env
def test_image_responses_vary_on_accept_and_the_hints(estate, env):
    template = _template(estate, env)
    behaviour = _image_behaviour(template)
    policy = _resource(template, behaviour["ResponseHeadersPolicyId"])["Properties"]
    config = policy["ResponseHeadersPolicyConfig"]
    headers = {h["Header"]: h for h in config["CustomHeadersConfig"]["Items"]}
    vary = [v.strip() for v in headers["Vary"]["Value"].split(",")]
    assert {"Accept", "Sec-CH-Width", "Sec-CH-DPR"} <= set(vary)
    assert ("Origin" in vary) == ("CorsConfig" in config)
    assert headers["Vary"]["Override"] is True
    assert "immutable" not in CACHE_CONTROL
    # The security headers of every other behaviour are kept.
    default = _resource(template, _distribution_config(template)["DefaultCacheBehavior"]
                        ["ResponseHeadersPolicyId"])["Properties"]["ResponseHeadersPolicyConfig"]
    assert config["SecurityHeadersConfig"] == default["SecurityHeadersConfig"]
    assert config.get("CorsConfig") == default.get("CorsConfig")


@each_env
def test_image_errors_get_no_store_and_only_s3s_200s_carry_the_week(estate, env):
    """A response headers policy applies to every answer whatever its status: a long
    Cache-Control there would reach a 403 (rendition not written yet) or a 5xx too. The policy
    only fills in no-store where the answer has no Cache-Control; the week is S3's, on a 200."""
    template = _template(estate, env)
    policy = _resource(template, _image_behaviour(template)["ResponseHeadersPolicyId"])
    items = policy["Properties"]["ResponseHeadersPolicyConfig"]["CustomHeadersConfig"]["Items"]
    [cache_control] = [h for h in items if h["Header"].lower() == "cache-control"]
    assert cache_control == {"Header": "Cache-Control", "Value": ERROR_CACHE_CONTROL,
                             "Override": False}
    assert "max-age" not in ERROR_CACHE_CONTROL
