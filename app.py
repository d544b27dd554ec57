#!/usr/bin/env python3
"""The storage estate: config → one Stage per environment → policy packs.

`cdk synth` with no context synthesizes every environment; `-c env=prod` only prod;
`-c account_prod=123456789012` sets prod's account id (see docs/configuration.md);
`-c validate-templates=true` adds CDK's CloudFormation template validation (``infra/nag.py``:
`make deploy`, `make diff` and the test suite's synth turn it on, `make synth` leaves it off).
The `delivery` stage holds each account's GitHub Actions trust (docs/delivery.md).
"""
from aws_cdk import App

from infra.app_builder import configs_or_exit, every_config

app = App(builtin_cloud_formation_validation=False)  # opt-in instead: see apply_template_validation
configs = configs_or_exit(app)  # validated before any construct exists; bad: one line, exit 1
# Imported once the context is known good: they load every construct library (seconds), which
# a bad `-c` would only wait for.
from infra.delivery_stage import DeliveryStage  # noqa: E402
from infra.nag import apply_policy_packs, apply_template_validation  # noqa: E402
from infra.stage import EstateStage  # noqa: E402

# deployed once per account by an admin; trusted by the pipeline
DeliveryStage(app, configs, configs_or_exit(app, every_config))
for cfg in configs:
    EstateStage(app, cfg)
apply_policy_packs(app)
apply_template_validation(app)
app.synth()
