#!/usr/bin/env bash
# EMR bootstrap action (or EC2 user data): installs the weir binary and starts
# an executor against the scheduler. Runs on every node it is attached to.
#
#   --bootstrap-actions Path=s3://<bucket>/weir/bootstrap-executor.sh,\
#     Args=[s3://<bucket>/weir/weir-<version>-x86_64-linux,weir-scheduler.internal:50050]
set -euo pipefail

binary_url=${1:?usage: bootstrap-executor.sh <s3 url of the weir binary> <scheduler host:port> [task slots]}
scheduler=${2:?scheduler host:port}
slots=${3:-$(nproc)}

sudo useradd --system --home-dir /var/lib/weir --shell /usr/sbin/nologin weir 2>/dev/null || true
aws s3 cp "$binary_url" /tmp/weir
sudo install -m 0755 /tmp/weir /usr/local/bin/weir
sudo install -d -m 0750 -o root -g weir /etc/weir

# The node's private address, from the instance metadata service (IMDSv2).
token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token \
  -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
private_ip=$(curl -sf -H "X-aws-ec2-metadata-token: $token" \
  http://169.254.169.254/latest/meta-data/local-ipv4)

sudo tee /etc/weir/weir.env >/dev/null <<ENV
WEIR_SCHEDULER=$scheduler
WEIR_EXECUTOR_BIND=0.0.0.0
WEIR_EXECUTOR_EXTERNAL_HOST=$private_ip
WEIR_EXECUTOR_PORT=50051
WEIR_EXECUTOR_GRPC_PORT=50052
WEIR_CONCURRENT_TASKS=$slots
WEIR_HEARTBEAT_SECS=5
RUST_LOG=info
ENV
sudo chmod 0640 /etc/weir/weir.env

aws s3 cp "$(dirname "$binary_url")/weir-executor.service" /tmp/weir-executor.service
sudo install -m 0644 /tmp/weir-executor.service /etc/systemd/system/weir-executor.service
sudo systemctl daemon-reload
sudo systemctl enable --now weir-executor.service
