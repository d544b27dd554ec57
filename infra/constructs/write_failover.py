"""How a browser reaches a region that can take its upload: one hostname, two regions.

    uploads.<zone>  A alias, failover PRIMARY   -> the primary region's API custom domain
                                                   (health check: WriteHealthCheck)
                    A alias, failover SECONDARY -> the replica region's API custom domain

Each region's upload API gets the same custom domain name with its own regional ACM
certificate and its own failover record; Route 53 answers with the PRIMARY record while its
health check is healthy, else with the SECONDARY one. Both certificates are validated by the
same DNS record (ACM issues one validation CNAME per domain name and account, whatever the
region), so only the primary's certificate writes it; the replica region's waits for it.

The primary record's health check is a CALCULATED one over the endpoint check
(``GET /health`` of the primary API, HTTPS): ``HealthThreshold`` 1 follows the endpoint. It
is also the operator's switch, with no code change (``make failover`` / ``make failback``):
Route 53 considers a calculated check with a threshold above its number of children always
unhealthy (2: writes go to the replica region) and one with threshold 0 always healthy.
"""
from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from constructs import Construct

from infra.constructs.presign_api import HEALTH_PATH

# Route 53: 30 s (standard) or 10 s (fast) between probes of each checker; 3 failures in a
# row. At 10 s the endpoint is marked unhealthy ~30 s after it stops answering.
REQUEST_INTERVAL_SECONDS = 10
FAILURE_THRESHOLD = 3
# Clients re-resolve after at most this long (the alias record's TTL is Route 53's for
# API Gateway aliases: 60 s).
ALIAS_TTL_SECONDS = 60
FOLLOW_ENDPOINT, FORCE_UNHEALTHY, FORCE_HEALTHY = 1, 2, 0


class WriteHealthCheck(Construct):
    """The endpoint check on ``GET /health`` and the calculated check the PRIMARY record uses."""

    def __init__(self, scope: Construct, construct_id: str, *, api: apigwv2.HttpApi,
                 name: str) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self.endpoint = route53.CfnHealthCheck(
            self, "Endpoint",
            health_check_config=route53.CfnHealthCheck.HealthCheckConfigProperty(
                type="HTTPS",
                fully_qualified_domain_name=f"{api.api_id}.execute-api.{region}.amazonaws.com",
                resource_path=HEALTH_PATH, port=443,
                enable_sni=True,  # execute-api answers TLS only for the name it is asked for
                request_interval=REQUEST_INTERVAL_SECONDS,
                failure_threshold=FAILURE_THRESHOLD),
            health_check_tags=[route53.CfnHealthCheck.HealthCheckTagProperty(
                key="Name", value=f"{name}-endpoint")])
        self.calculated = route53.CfnHealthCheck(
            self, "Writes",
            health_check_config=route53.CfnHealthCheck.HealthCheckConfigProperty(
                type="CALCULATED",
                child_health_checks=[self.endpoint.attr_health_check_id],
                health_threshold=FOLLOW_ENDPOINT),
            health_check_tags=[route53.CfnHealthCheck.HealthCheckTagProperty(
                key="Name", value=name)])
        self.health_check_id = self.calculated.attr_health_check_id


class UploadDomain(Construct):
    """The upload hostname on this region's API: certificate, custom domain, mapping and this
    region's failover record (``PRIMARY`` with ``health_check_id``, or ``SECONDARY``)."""

    def __init__(self, scope: Construct, construct_id: str, *, domain_name: str,
                 zone_name: str, zone_id: str, api: apigwv2.HttpApi, stage: apigwv2.IStage,
                 failover: str, health_check_id: str | None = None) -> None:
        super().__init__(scope, construct_id)
        if failover not in ("PRIMARY", "SECONDARY") or \
                (failover == "PRIMARY") != (health_check_id is not None):
            raise ValueError(f"{self.node.path}: a PRIMARY record needs a health check and a "
                             "SECONDARY one has none")
        region = Stack.of(self).region
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=zone_id, zone_name=zone_name)
        self.certificate = acm.Certificate(
            self, "Certificate", domain_name=domain_name,
            # One validation record per domain name and account: the primary writes it.
            validation=acm.CertificateValidation.from_dns(zone if failover == "PRIMARY"
                                                          else None))
        self.domain = apigwv2.DomainName(
            self, "Domain", domain_name=domain_name, certificate=self.certificate,
            security_policy=apigwv2.SecurityPolicy.TLS_1_2)
        apigwv2.ApiMapping(self, "Mapping", api=api, domain_name=self.domain, stage=stage)
        self.record = route53.CfnRecordSet(
            self, "Record",
            hosted_zone_id=zone_id, name=f"{domain_name}.", type="A",
            set_identifier=f"uploads-{region}", failover=failover,
            health_check_id=health_check_id,
            alias_target=route53.CfnRecordSet.AliasTargetProperty(
                dns_name=self.domain.regional_domain_name,
                hosted_zone_id=self.domain.regional_hosted_zone_id,
                # The PRIMARY's own health check decides; the SECONDARY is the last resort.
                evaluate_target_health=False))
