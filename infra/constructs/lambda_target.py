"""The machine every Lambda function of the estate runs on: one runtime, one architecture.

Its own module because both the functions (``function.py``) and the dependency layers built
for them (``python_layer.py``) must name the same target.
"""
from aws_cdk import aws_lambda as lambda_

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
