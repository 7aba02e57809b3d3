#!/usr/bin/env bash
# Drives a running ringgate with the real S3 clients: the AWS CLI, boto3,
# rclone and s3cmd. Fails on the first mismatch. tests/real_clients.rs starts a
# fresh server and runs this; by hand:
#
#   tests/clients/run.sh http://127.0.0.1:9000 ACCESS_KEY SECRET_KEY \
#       [https://127.0.0.1:9443 CA.pem [HTTPS_ACCESS_KEY HTTPS_SECRET_KEY]]
#
# Environment: RG_VENV (virtual environment with awscli and boto3, default
# target/clients-venv), RG_BIG_MIB (size of the large file, default 300).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
endpoint="$1"
access_key="$2"
secret_key="$3"
https_endpoint="${4:-}"
ca_bundle="${5:-}"
https_access_key="${6:-$access_key}"
https_secret_key="${7:-$secret_key}"
venv="${RG_VENV:-$here/../../target/clients-venv}"
big_mib="${RG_BIG_MIB:-300}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run_id="$(date +%s)-$$"

step() { echo "== $*"; }
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
same() { cmp -s "$1" "$2" || fail "$1 and $2 differ"; }

# One environment for every client: credentials, region, no proxies, no
# system CA bundle (rclone 1.60 refuses to start with AWS_CA_BUNDLE set).
unset AWS_CA_BUNDLE AWS_PROFILE AWS_SESSION_TOKEN http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
export AWS_ACCESS_KEY_ID="$access_key" AWS_SECRET_ACCESS_KEY="$secret_key"
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n' >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"

mkdir -p "$work/src/nested/deeper" "$work/down"
head -c $((big_mib << 20)) /dev/urandom >"$work/big.bin"
for i in $(seq 1 12); do head -c $((i * 7919)) /dev/urandom >"$work/src/file-$i.dat"; done
echo "tiny" >"$work/src/nested/tiny.txt"
head -c 5000000 /dev/urandom >"$work/src/nested/deeper/five-mb.bin"
: >"$work/src/empty"

# ---------------------------------------------------------------- AWS CLI
aws_() { "$venv/bin/aws" --endpoint-url "$endpoint" "$@"; }
q=--only-show-errors
b="cli-$run_id"
step "aws cli: mb, cp ${big_mib} MiB up and down"
aws_ s3 mb "s3://$b"
aws_ s3 cp $q "$work/big.bin" "s3://$b/big.bin"
aws_ s3 cp $q "s3://$b/big.bin" "$work/down/big.bin"
same "$work/big.bin" "$work/down/big.bin"
etag="$(aws_ s3api head-object --bucket "$b" --key big.bin --query ETag --output text)"
[[ "$etag" == *-* ]] || fail "multipart upload of big.bin has ETag $etag"

step "aws cli: sync up, sync down, ls"
aws_ s3 sync $q "$work/src" "s3://$b/sync/"
aws_ s3 sync $q "s3://$b/sync/" "$work/synced"
diff -r "$work/src" "$work/synced" || fail "sync round trip differs"
count="$(aws_ s3 ls "s3://$b/sync/" --recursive | wc -l)"
[ "$count" = 15 ] || fail "aws s3 ls listed $count objects, expected 15"
again="$(aws_ s3 sync $q "$work/src" "s3://$b/sync/" --dryrun | wc -l)"
[ "$again" = 0 ] || fail "second sync wants to upload $again files"

step "aws cli: s3api"
aws_ s3api put-object --bucket "$b" --key "meta/obj.txt" --body "$work/src/file-1.dat" \
    --content-type text/plain --metadata color=blue,shape=round --cache-control max-age=60 >/dev/null
meta="$(aws_ s3api head-object --bucket "$b" --key meta/obj.txt --output json)"
grep -q '"color": "blue"' <<<"$meta" || fail "user metadata lost: $meta"
grep -q '"ContentType": "text/plain"' <<<"$meta" || fail "content type lost: $meta"
grep -q '"CacheControl": "max-age=60"' <<<"$meta" || fail "cache-control lost: $meta"
aws_ s3api get-object --bucket "$b" --key meta/obj.txt --range bytes=10-99 "$work/down/range" >/dev/null
dd if="$work/src/file-1.dat" bs=1 skip=10 count=90 status=none >"$work/down/range.want"
same "$work/down/range" "$work/down/range.want"
aws_ s3api copy-object --bucket "$b" --key meta/copy.txt --copy-source "$b/meta/obj.txt" >/dev/null
aws_ s3api get-object --bucket "$b" --key meta/copy.txt "$work/down/copy" >/dev/null
same "$work/src/file-1.dat" "$work/down/copy"
prefixes="$(aws_ s3api list-objects-v2 --bucket "$b" --delimiter / --query 'CommonPrefixes[].Prefix' --output text)"
[ "$prefixes" = "meta/	sync/" ] || fail "common prefixes: '$prefixes'"
upload="$(aws_ s3api create-multipart-upload --bucket "$b" --key mp.bin --query UploadId --output text)"
head -c $((5 << 20)) /dev/urandom >"$work/part1"
head -c 1234 /dev/urandom >"$work/part2"
e1="$(aws_ s3api upload-part --bucket "$b" --key mp.bin --upload-id "$upload" --part-number 1 --body "$work/part1" --query ETag --output text)"
e2="$(aws_ s3api upload-part --bucket "$b" --key mp.bin --upload-id "$upload" --part-number 2 --body "$work/part2" --query ETag --output text)"
listed="$(aws_ s3api list-multipart-uploads --bucket "$b" --query 'Uploads[].UploadId' --output text)"
[ "$listed" = "$upload" ] || fail "list-multipart-uploads: '$listed'"
parts="$(aws_ s3api list-parts --bucket "$b" --key mp.bin --upload-id "$upload" --query 'Parts[].PartNumber' --output text)"
[ "$parts" = "1	2" ] || fail "list-parts: '$parts'"
printf '{"Parts":[{"PartNumber":1,"ETag":%s},{"PartNumber":2,"ETag":%s}]}' "$e1" "$e2" >"$work/mpu.json"
aws_ s3api complete-multipart-upload --bucket "$b" --key mp.bin --upload-id "$upload" \
    --multipart-upload "file://$work/mpu.json" >/dev/null
aws_ s3api get-object --bucket "$b" --key mp.bin "$work/down/mp.bin" >/dev/null
cat "$work/part1" "$work/part2" | cmp -s - "$work/down/mp.bin" || fail "multipart object differs"
aws_ s3api put-bucket-tagging --bucket "$b" --tagging 'TagSet=[{Key=team,Value=media}]'
tags="$(aws_ s3api get-bucket-tagging --bucket "$b" --query 'TagSet[0].Value' --output text)"
[ "$tags" = media ] || fail "get-bucket-tagging answered $tags"
aws_ s3api delete-bucket-tagging --bucket "$b"
aws_ s3api delete-objects --bucket "$b" --delete '{"Objects":[{"Key":"meta/obj.txt"},{"Key":"meta/copy.txt"}]}' >/dev/null
left="$( (aws_ s3 ls "s3://$b/meta/" || true) | wc -l)"
[ "$left" = 0 ] || fail "delete-objects left $left keys"
if aws_ s3 rb "s3://$b" 2>/dev/null; then fail "rb of a non-empty bucket succeeded"; fi
aws_ s3 rm $q --recursive "s3://$b"
aws_ s3 rb "s3://$b"

step "aws cli: s3api versioning, object tagging and attributes"
vb="versions-$run_id"
aws_ s3 mb "s3://$vb"
aws_ s3api put-bucket-versioning --bucket "$vb" --versioning-configuration Status=Enabled
status="$(aws_ s3api get-bucket-versioning --bucket "$vb" --query Status --output text)"
[ "$status" = Enabled ] || fail "get-bucket-versioning answered $status"
printf one >"$work/v1"
printf two >"$work/v2"
v1="$(aws_ s3api put-object --bucket "$vb" --key k --body "$work/v1" --query VersionId --output text)"
v2="$(aws_ s3api put-object --bucket "$vb" --key k --body "$work/v2" --query VersionId --output text)"
[ "$v1" != "$v2" ] || fail "two puts got one version id $v1"
aws_ s3api get-object --bucket "$vb" --key k --version-id "$v1" "$work/down/v1" >/dev/null
same "$work/v1" "$work/down/v1"
aws_ s3api put-object-tagging --bucket "$vb" --key k --version-id "$v1" \
    --tagging 'TagSet=[{Key=stage,Value=first}]'
tags="$(aws_ s3api get-object-tagging --bucket "$vb" --key k --version-id "$v1" --query 'TagSet[0].Value' --output text)"
[ "$tags" = first ] || fail "get-object-tagging of $v1 answered $tags"
tags="$(aws_ s3api get-object-tagging --bucket "$vb" --key k --query 'length(TagSet)' --output text)"
[ "$tags" = 0 ] || fail "the latest version has $tags tags"
size="$(aws_ s3api get-object-attributes --bucket "$vb" --key k --version-id "$v1" \
    --object-attributes ObjectSize ETag --query ObjectSize --output text)"
[ "$size" = 3 ] || fail "get-object-attributes of $v1 answered size $size"
marker="$(aws_ s3api delete-object --bucket "$vb" --key k --query VersionId --output text)"
if aws_ s3api head-object --bucket "$vb" --key k >/dev/null 2>&1; then fail "head-object saw a deleted key"; fi
listed="$(aws_ s3api list-object-versions --bucket "$vb" --query '[length(Versions), length(DeleteMarkers)]' --output text)"
[ "$listed" = "2	1" ] || fail "list-object-versions listed $listed"
aws_ s3api delete-object --bucket "$vb" --key k --version-id "$marker" >/dev/null
aws_ s3api get-object --bucket "$vb" --key k "$work/down/v2" >/dev/null
same "$work/v2" "$work/down/v2"
for version in "$v1" "$v2"; do
    aws_ s3api delete-object --bucket "$vb" --key k --version-id "$version" >/dev/null
done
aws_ s3 rb "s3://$vb"

# ---------------------------------------------------------------- boto3
step "boto3 over HTTP"
"$venv/bin/python" "$here/boto3_check.py" "$endpoint" "" "$work"
if [ -n "$https_endpoint" ]; then
    tls_() {
        AWS_ACCESS_KEY_ID="$https_access_key" AWS_SECRET_ACCESS_KEY="$https_secret_key" "$@"
    }
    step "boto3 over HTTPS (aws-chunked with CRC trailers)"
    tls_ "$venv/bin/python" "$here/boto3_check.py" "$https_endpoint" "$ca_bundle" "$work"
    step "aws cli over HTTPS"
    hb="clis-$run_id"
    awss() { tls_ "$venv/bin/aws" --endpoint-url "$https_endpoint" --ca-bundle "$ca_bundle" "$@"; }
    awss s3 mb "s3://$hb"
    awss s3 cp --only-show-errors "$work/big.bin" "s3://$hb/big"
    awss s3 cp --only-show-errors "s3://$hb/big" "$work/down/https-big"
    same "$work/big.bin" "$work/down/https-big"
    awss s3 rb --force "s3://$hb"
fi

# ---------------------------------------------------------------- rclone
step "rclone: copy, check, sync, ls, delete"
export RCLONE_CONFIG="$work/rclone.conf"
cat >"$RCLONE_CONFIG" <<CONF
[rg]
type = s3
provider = Other
access_key_id = $access_key
secret_access_key = $secret_key
endpoint = $endpoint
region = us-east-1
force_path_style = true
CONF
rb_="rclone-$run_id"
rclone -q mkdir "rg:$rb_"
rclone -q copy "$work/src" "rg:$rb_/data"
rclone -q check "$work/src" "rg:$rb_/data" || fail "rclone check after copy"
rclone -q copy "$work/big.bin" "rg:$rb_/"
rclone -q copy "rg:$rb_/big.bin" "$work/rclone-down/"
same "$work/big.bin" "$work/rclone-down/big.bin"
rm "$work/src/file-3.dat"
echo changed >"$work/src/file-4.dat"
rclone -q sync "$work/src" "rg:$rb_/data"
rclone -q check "$work/src" "rg:$rb_/data" || fail "rclone check after sync"
n="$(rclone ls "rg:$rb_/data" | wc -l)"
[ "$n" = 14 ] || fail "rclone ls listed $n, expected 14"
rclone -q delete "rg:$rb_/data/nested"
n="$(rclone ls "rg:$rb_/data" | wc -l)"
[ "$n" = 12 ] || fail "rclone ls after delete listed $n, expected 12"
rclone -q purge "rg:$rb_"

# ---------------------------------------------------------------- s3cmd
step "s3cmd: mb, put, get, ls, sync, del, rb"
host="${endpoint#http://}"
cat >"$work/s3cfg" <<CONF
[default]
access_key = $access_key
secret_key = $secret_key
host_base = $host
host_bucket = $host
use_https = False
signature_v2 = False
bucket_location = us-east-1
multipart_chunk_size_mb = 16
CONF
s3c() { s3cmd -c "$work/s3cfg" --no-progress "$@"; }
sb="s3cmd-$run_id"
s3c mb "s3://$sb" >/dev/null
s3c put "$work/src/nested/deeper/five-mb.bin" "s3://$sb/five" >/dev/null
s3c put "$work/big.bin" "s3://$sb/big" >/dev/null
s3c get "s3://$sb/five" "$work/down/s3cmd-five" >/dev/null
s3c get "s3://$sb/big" "$work/down/s3cmd-big" >/dev/null
same "$work/src/nested/deeper/five-mb.bin" "$work/down/s3cmd-five"
same "$work/big.bin" "$work/down/s3cmd-big"
s3c sync "$work/src/" "s3://$sb/tree/" >/dev/null
n="$(s3c ls --recursive "s3://$sb/tree/" | wc -l)"
[ "$n" = 14 ] || fail "s3cmd ls listed $n, expected 14"
s3c sync "s3://$sb/tree/" "$work/s3cmd-tree/" >/dev/null
diff -r "$work/src" "$work/s3cmd-tree" || fail "s3cmd sync round trip differs"
s3c del --recursive --force "s3://$sb" >/dev/null
s3c rb "s3://$sb" >/dev/null

echo "all real-client checks passed"
