"""The stacks an environment is expected to have, from its config: what the drift check
compares with what is live, so a stack deleted by hand is reported, not skipped.

The names and regions follow the app's stages: ``EstateStage`` (``infra/stage.py``) names its
stacks ``<env>-<stack id>``, ``DeliveryStage`` (``infra/delivery_stage.py``) one stack per
account, ``delivery-<envs sharing the account>``. Config only, no aws-cdk-lib: the drift
workflow installs boto3 and nothing else. ``tests/infra/test_delivery_trust.py`` compares
this with the synthesized assembly, so a stack added to a stage cannot be forgotten here.
"""
from __future__ import annotations


def expected_stacks(env: str) -> dict[str, str]:
    """Stack name → region of every stack of ``env``'s stage, and of the delivery stack of
    its account when GitHub deploys it (``delivery`` config)."""
    from infra.environments import ENVIRONMENTS

    cfg = ENVIRONMENTS[env]()
    primary, replica = cfg.primary_region, cfg.replica_region
    stacks = {f"{env}-AccessLogs-{region}": region for region in cfg.regions}
    stacks.update({
        f"{env}-Replica": replica, f"{env}-Assets": primary, f"{env}-Cdn": primary,
        f"{env}-UploadApi": primary, f"{env}-UploadApi-{replica}": replica,
        f"{env}-Recovery": primary, f"{env}-Backups": cfg.backups_region,
        f"{env}-Monitoring": primary,
        # It watches the forward replication rule, whose metrics are in the replica's region.
        f"{env}-ReplicationMonitoring": replica,
    })
    if cfg.delivery is not None:
        sharing = [c for c in (make() for make in ENVIRONMENTS.values())
                   if c.account == cfg.account and c.delivery is not None]
        stacks["delivery-" + "-".join(c.name for c in sharing)] = sharing[0].primary_region
    return stacks
