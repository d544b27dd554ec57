"""How a browser reaches a region that can take its upload: one hostname, two regions.

    uploads.<zone>  A alias, failover PRIMARY   -> the primary region's API custom domain
                                                   (health check: WriteHealthCheck)
                    A alias, failover SECONDARY -> the replica region's API custom domain

Each region's upload API gets the same custom domain name with its own regional ACM
certificate and its own failover record; Route 53 answers with the PRIMARY record while its
health check is healthy, else with the SECONDARY one. Both certificates are validated by the
same DNS record (ACM issues one validation CNAME per domain name and account, whatever the
region), so only the primary's certificate writes it; the replica region's waits for it.

The primary record's health check is a CALCULATED one over two children, both of which must
be healthy (``HealthThreshold`` 2):

- the endpoint check: the primary API's health route (``GET /health-<stack id>``), HTTPS;
- the switch: a Route 53 check on a CloudWatch alarm in the replica region
  (``WriteSwitchAlarm``, in the Replica stack) over a metric that ``make failover`` /
  ``make failback`` write there with PutMetricData (1 pinned, 0 released). Moving writes thus
  needs only CloudWatch's data plane in the replica region and Route 53's health-check data
  plane, not the Route 53 control plane in us-east-1 (AWS Fault Isolation Boundaries,
  appendix B: do not rely on it in a recovery path).

The metric is written only while a switch is made (``make failover`` holds it for a few
minutes), so the alarm treats missing data as "keep the state",
and the Route 53 check, which reads the metric's data stream rather than the alarm state,
treats insufficient data as its last known status (a new check with none is healthy).
Changing the threshold (3: always unhealthy, 0: always healthy) still works as a second
lever, through the control plane.
"""
from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_route53 as route53
from constructs import Construct

from infra.config import (
    WRITE_SWITCH_METRIC,
    WRITE_SWITCH_NAMESPACE,
    WRITE_SWITCH_PINNED,
    EnvironmentConfig,
)
from infra.nag import acknowledge

# Route 53: 30 s (standard) or 10 s (fast) between probes of each checker; 3 failures in a
# row. At 10 s the endpoint is marked unhealthy ~30 s after it stops answering.
REQUEST_INTERVAL_SECONDS = 10
FAILURE_THRESHOLD = 3
# Clients re-resolve after at most this long (the alias record's TTL is Route 53's for
# API Gateway aliases: 60 s).
ALIAS_TTL_SECONDS = 60
# The calculated check's HealthThreshold: both children healthy (the endpoint answers and the
# switch is released). The manual lever (docs/multi-region-writes.md) sets 3, always unhealthy,
# or 0, always healthy.
FOLLOW_BOTH = 2
# Route 53 reads the alarm's metric itself and supports only standard-resolution metrics and
# the plain statistics (AlarmIdentifier in the Route 53 API reference).
SWITCH_PERIOD = Duration.minutes(1)
SWITCH_STATISTIC = "Maximum"
# With no datapoint (the tool writes one per switch) the check keeps its last known status.
INSUFFICIENT_DATA_STATUS = "LastKnownStatus"


class WriteSwitchAlarm(Construct):
    """The failover switch's alarm, in the replica region: ALARM while the latest value of
    the switch metric is 1 (pinned), OK once it is 0 (released); between writes it keeps its
    state. It notifies nobody: ``Writes-Served-By-<replica>`` (primary region) does."""

    def __init__(self, scope: Construct, construct_id: str, *, cfg: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        self.alarm = cw.Alarm(
            self, "Alarm", alarm_name=cfg.write_switch_alarm_name,
            alarm_description=(
                f"Failover switch of the {cfg.name} upload hostname: in ALARM, Route 53 "
                f"answers with {cfg.replica_region} (make failover / make failback write its "
                "metric; docs/multi-region-writes.md)."),
            metric=cw.Metric(namespace=WRITE_SWITCH_NAMESPACE, metric_name=WRITE_SWITCH_METRIC,
                             dimensions_map=cfg.write_switch_dimensions,
                             statistic=SWITCH_STATISTIC, period=SWITCH_PERIOD),
            threshold=WRITE_SWITCH_PINNED, evaluation_periods=1, datapoints_to_alarm=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.IGNORE)
        acknowledge(self.alarm, {
            "NIST.800.53.R5-CloudWatchAlarmAction":
                "A switch, not a warning: Route 53 reads it to route uploads. The state it "
                "causes is alarmed and notified by Writes-Served-By in the primary region.",
        })


class WriteHealthCheck(Construct):
    """The endpoint check on the API's health route (``health_path``), the switch check on
    ``WriteSwitchAlarm``, and the calculated check over both that the PRIMARY record uses."""

    def __init__(self, scope: Construct, construct_id: str, *, api: apigwv2.HttpApi,
                 health_path: str, name: str, cfg: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self.endpoint = route53.CfnHealthCheck(
            self, "Endpoint",
            health_check_config=route53.CfnHealthCheck.HealthCheckConfigProperty(
                type="HTTPS",
                fully_qualified_domain_name=f"{api.api_id}.execute-api.{region}.amazonaws.com",
                resource_path=health_path, port=443,
                enable_sni=True,  # execute-api answers TLS only for the name it is asked for
                request_interval=REQUEST_INTERVAL_SECONDS,
                failure_threshold=FAILURE_THRESHOLD),
            health_check_tags=[route53.CfnHealthCheck.HealthCheckTagProperty(
                key="Name", value=f"{name}-endpoint")])
        # The alarm lives in the Replica stack, which deploys before this one: Route 53 copies
        # the alarm's settings when it creates the check and keeps evaluating that copy, so a
        # change to the alarm's metric, period or threshold needs a new check (a new id here).
        self.switch = route53.CfnHealthCheck(
            self, "Switch",
            health_check_config=route53.CfnHealthCheck.HealthCheckConfigProperty(
                type="CLOUDWATCH_METRIC",
                alarm_identifier=route53.CfnHealthCheck.AlarmIdentifierProperty(
                    name=cfg.write_switch_alarm_name, region=cfg.replica_region),
                insufficient_data_health_status=INSUFFICIENT_DATA_STATUS),
            health_check_tags=[route53.CfnHealthCheck.HealthCheckTagProperty(
                key="Name", value=f"{name}-switch")])
        self.calculated = route53.CfnHealthCheck(
            self, "Writes",
            health_check_config=route53.CfnHealthCheck.HealthCheckConfigProperty(
                type="CALCULATED",
                child_health_checks=[self.endpoint.attr_health_check_id,
                                     self.switch.attr_health_check_id],
                health_threshold=FOLLOW_BOTH),
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
