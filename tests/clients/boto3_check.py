"""boto3 against a running ringgate, with boto3's current default checksum
behaviour (request_checksum_calculation=when_supported): over HTTP it sends
x-amz-checksum-crc32 as a header with a signed payload hash; over HTTPS a
streamed upload goes as aws-chunked with a CRC32 trailer.

usage: boto3_check.py ENDPOINT CA_BUNDLE_OR_EMPTY WORKDIR
credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""

import base64
import hashlib
import io
import os
import sys
import time
import urllib.request
import ssl
import zlib

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, ca_bundle, work = sys.argv[1], sys.argv[2] or None, sys.argv[3]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    verify=ca_bundle if ca_bundle else True,
    # s3v4: boto3 still presigns with SigV2 by default, which ringgate does not accept.
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                  signature_version="s3v4"),
)
bucket = f"boto3-{'tls' if endpoint.startswith('https') else 'plain'}-{int(time.time())}-{os.getpid()}"


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return e
    raise AssertionError(f"expected {code}, call succeeded")


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


s3.create_bucket(Bucket=bucket)
assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
s3.head_bucket(Bucket=bucket)
expect_error("BucketAlreadyOwnedByYou", s3.create_bucket, Bucket=bucket)
expect_error("InvalidBucketName", s3.create_bucket, Bucket="Bad_Name")

# put_object with the default CRC32 checksum; read back with checksum mode.
body = os.urandom(100_000)
put = s3.put_object(Bucket=bucket, Key="a/one.bin", Body=body, Metadata={"k": "v"})
assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), put["ETag"]
got = s3.get_object(Bucket=bucket, Key="a/one.bin", ChecksumMode="ENABLED")
assert got["Body"].read() == body
assert got["Metadata"] == {"k": "v"}, got["Metadata"]
assert got.get("ChecksumCRC32") == crc32_b64(body), got.get("ChecksumCRC32")

# A streamed (non-seekable) body: aws-chunked with a trailer over HTTPS.
class Stream(io.RawIOBase):
    def __init__(self, data):
        self.data, self.pos = data, 0

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), len(self.data) - self.pos, 65536)
        b[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


streamed = os.urandom(3_000_000)
s3.upload_fileobj(Stream(streamed), bucket, "a/streamed.bin",
                  Config=TransferConfig(multipart_threshold=64 << 20))
out = io.BytesIO()
s3.download_fileobj(bucket, "a/streamed.bin", out)
assert out.getvalue() == streamed

# Multipart through the transfer manager (8 MiB parts), then ranged reads.
large = os.urandom(21 << 20)
s3.upload_fileobj(io.BytesIO(large), bucket, "b/large.bin",
                  Config=TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20))
head = s3.head_object(Bucket=bucket, Key="b/large.bin")
assert head["ContentLength"] == len(large)
assert head["ETag"].endswith('-3"'), head["ETag"]
r = s3.get_object(Bucket=bucket, Key="b/large.bin", Range="bytes=8388600-8388700")
assert r["Body"].read() == large[8388600:8388701]
assert r["ContentRange"] == f"bytes 8388600-8388700/{len(large)}", r["ContentRange"]
expect_error("InvalidRange", s3.get_object, Bucket=bucket, Key="b/large.bin",
             Range=f"bytes={len(large)}-")

# A wrong checksum is refused and leaves the old object in place.
expect_error("BadDigest", s3.put_object, Bucket=bucket, Key="a/one.bin", Body=b"different",
             ChecksumCRC32=crc32_b64(b"something else"))
assert s3.get_object(Bucket=bucket, Key="a/one.bin")["Body"].read() == body

# Conditional writes.
expect_error("PreconditionFailed", s3.put_object, Bucket=bucket, Key="a/one.bin",
             Body=b"x", IfNoneMatch="*")
s3.put_object(Bucket=bucket, Key="a/new.bin", Body=b"x", IfNoneMatch="*")
expect_error("NoSuchKey", s3.get_object, Bucket=bucket, Key="nope")
expect_error("304", s3.get_object, Bucket=bucket, Key="a/one.bin", IfNoneMatch=put["ETag"])
expect_error("PreconditionFailed", s3.get_object, Bucket=bucket, Key="a/one.bin", IfMatch='"0000"')

# Listing with paging.
for i in range(25):
    s3.put_object(Bucket=bucket, Key=f"list/{i:03d}", Body=str(i).encode())
keys, token = [], None
while True:
    kw = {"ContinuationToken": token} if token else {}
    page = s3.list_objects_v2(Bucket=bucket, Prefix="list/", MaxKeys=7, **kw)
    keys += [o["Key"] for o in page.get("Contents", [])]
    if not page["IsTruncated"]:
        break
    token = page["NextContinuationToken"]
assert keys == [f"list/{i:03d}" for i in range(25)], keys
paginator = s3.get_paginator("list_objects")
v1 = [o["Key"] for p in paginator.paginate(Bucket=bucket, Prefix="list/", PaginationConfig={"PageSize": 10})
      for o in p.get("Contents", [])]
assert v1 == keys

# Bucket tagging: a configuration family through boto3's own checksums.
s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "media"}]})
assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "media"}]
expect_error("InvalidTag", s3.put_bucket_tagging, Bucket=bucket,
             Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]})
s3.delete_bucket_tagging(Bucket=bucket)
expect_error("NoSuchTagSet", s3.get_bucket_tagging, Bucket=bucket)

# Copy, presigned GET, DeleteObjects (boto3 sends a CRC32 header, no Content-MD5).
s3.copy_object(Bucket=bucket, Key="c/copy.bin", CopySource={"Bucket": bucket, "Key": "a/one.bin"})
assert s3.get_object(Bucket=bucket, Key="c/copy.bin")["Body"].read() == body
url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a/one.bin"}, ExpiresIn=300)
ctx = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None
with urllib.request.urlopen(url, context=ctx) as resp:
    assert resp.read() == body
all_keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in p.get("Contents", [])]
res = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in all_keys]})
assert len(res.get("Deleted", [])) == len(all_keys) and not res.get("Errors"), res
s3.delete_bucket(Bucket=bucket)
try:
    s3.head_bucket(Bucket=bucket)
    raise AssertionError("deleted bucket still answers HEAD")
except ClientError as e:
    assert e.response["Error"]["Code"] in ("404", "NoSuchBucket"), e.response
print(f"boto3 {boto3.__version__} checks passed against {endpoint}")
