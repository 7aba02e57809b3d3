#!/usr/bin/env bash
# Installs the real S3 clients the client tests drive: the AWS CLI and boto3 in
# a virtual environment under target/, rclone and s3cmd from Debian. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/clients-venv

if ! command -v rclone >/dev/null || ! command -v s3cmd >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq rclone s3cmd >/dev/null
fi
if [ ! -x "$venv/bin/aws" ] || ! "$venv/bin/python" -c 'import boto3' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check awscli boto3
fi
echo "clients: $("$venv/bin/aws" --version 2>&1 | cut -d' ' -f1), boto3 $("$venv/bin/python" -c 'import boto3; print(boto3.__version__)'), $(rclone version | head -1), s3cmd $(s3cmd --version | cut -d' ' -f3)"
