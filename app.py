#!/usr/bin/env python3
"""The storage estate: config → one Stage per environment → policy packs.

`cdk synth` with no context synthesizes every environment; `-c env=prod` only prod.
`-c account_<env>=123456789012` overrides that environment's placeholder account id.
"""
from aws_cdk import App

from infra.environments import ENVIRONMENTS
from infra.nag import apply_policy_packs
from infra.stage import EstateStage

app = App()
selected = app.node.try_get_context("env")
names = [selected] if selected else list(ENVIRONMENTS)
for name in names:
    if name not in ENVIRONMENTS:
        raise SystemExit(f"unknown env '{name}': choose one of {', '.join(ENVIRONMENTS)}")
    account = app.node.try_get_context(f"account_{name}")
    cfg = ENVIRONMENTS[name](account) if account else ENVIRONMENTS[name]()
    EstateStage(app, cfg)

apply_policy_packs(app)
app.synth()
