#!/bin/sh
# `make serve`: serve examples/snapshot.json and say how to call it. Everything it writes
# (the Control token, the state directory) stays in .serve/ of the checkout.
set -eu
BIN=${BIN:-.venv/bin}
LISTEN_TCP=${LISTEN_TCP:-127.0.0.1:50051}
LISTEN_UNIX=${LISTEN_UNIX:-/tmp/iam-sidecar/authz.sock}
CONTROL=${CONTROL:-127.0.0.1:50052}
SNAPSHOT=${SNAPSHOT:-examples/snapshot.json}
mkdir -p .serve
[ -s .serve/control.token ] || "$BIN/python" -c "import secrets; print(secrets.token_hex(32))" > .serve/control.token
chmod 600 .serve/control.token

ALICE=arn:aws:iam::222222222222:user/alice
OBJECT=arn:aws:s3:::example-payments-data/report.csv
cat <<EOT

iam-sidecar: serving $SNAPSHOT
  Authorizer  unix:$LISTEN_UNIX and $LISTEN_TCP   (health, reflection)
  Control     $CONTROL   (token in .serve/control.token)

Try it from another terminal in this directory:

  $BIN/iam-sidecar check --server $LISTEN_TCP --principal $ALICE --action s3:GetObject --resource $OBJECT --explain
  $BIN/iam-sidecar check --server unix:$LISTEN_UNIX --principal $ALICE --action s3:DeleteObject --resource $OBJECT
  $BIN/iam-sidecar status --server $CONTROL --token-file .serve/control.token
  $BIN/iam-sidecar health --server $LISTEN_TCP

  $BIN/python -c "from iam_sidecar_client import SidecarClient; print(SidecarClient('unix:$LISTEN_UNIX').authorize('$ALICE', 's3:GetObject', '$OBJECT'))"

  grpcurl -plaintext -d '{"caller": {"principal_arn": "$ALICE"}, "action": "s3:GetObject", "resource": "$OBJECT"}' $LISTEN_TCP iam_sidecar.v1.Authorizer/Authorize

Stop with Ctrl-C (the sidecar drains in-flight calls and exits).

EOT
exec "$BIN/iam-sidecar" serve --snapshot "$SNAPSHOT" \
    --listen "unix:$LISTEN_UNIX,$LISTEN_TCP" --control "$CONTROL" \
    --control-token-file .serve/control.token --state-dir .serve/state --drain-grace 5
