#!/usr/bin/env python3
"""The storage estate: config → one Stage per environment → policy packs.

`cdk synth` with no context synthesizes every environment; `-c env=prod` only prod;
`-c account_prod=123456789012` sets prod's account id (see docs/configuration.md).
The `delivery` stage holds each account's GitHub Actions trust (docs/delivery.md).
"""
from aws_cdk import App

from infra.app_builder import configs_or_exit
from infra.delivery_stage import DeliveryStage
from infra.nag import apply_policy_packs
from infra.stage import EstateStage

app = App()
configs = configs_or_exit(app)  # validated before any construct exists; bad: one line, exit 1
DeliveryStage(app, configs)     # deployed once per account by an admin; trusted by the pipeline
for cfg in configs:
    EstateStage(app, cfg)
apply_policy_packs(app)
app.synth()
