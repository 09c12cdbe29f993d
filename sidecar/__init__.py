"""iam-sidecar: an authorization sidecar that speaks the AWS IAM policy language.

Rooms, each importing only from the ones before it:
``policy`` (the language) ← ``snapshot`` (the data) ← ``engine`` (decisions) ←
``store`` (the live snapshot) ← ``sts`` ← ``server`` ← ``cli``.
"""

__version__ = "0.1.0"
