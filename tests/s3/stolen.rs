//! "A stolen database opens nothing", checked on the bytes: after grants are
//! registered and objects written (inline, several segments, multipart, in
//! two projects), no file in the data folder holds an access key id, a secret
//! key, a grant, an API key's tail or a project's root key, in any encoding
//! one might store them in: raw, hex (either case), base32, base58, base64 and
//! base64url (with and without padding, at every alignment inside a longer
//! encoded string).
//!
//! Two files hold such secrets by design and are left out: `credentials` and
//! `grant`, the user's own copies from first start. They are scanned all the
//! same, as the proof that the scanner finds what it looks for. `server.key`
//! and `admin-token` are scanned: they hold secrets of their own, but none of
//! these (see ARCHITECTURE.md on where `server.key` belongs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use base64::Engine as _;
use ringgate::auth::Grant;

use crate::harness::{bytes, Server};

/// Files that hold the user's credentials on purpose.
const BY_DESIGN: [&str; 2] = ["credentials", "grant"];
/// Needles are found by their first bytes, then compared whole.
const PROBE: usize = 16;

struct Secret {
    what: String,
    bytes: Vec<u8>,
}

fn secret(what: String, bytes: impl Into<Vec<u8>>) -> Secret {
    Secret {
        what,
        bytes: bytes.into(),
    }
}

fn hex(bytes: &[u8], upper: bool) -> String {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    bytes
        .iter()
        .flat_map(|b| [digits[usize::from(b >> 4)], digits[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

/// RFC 4648 base32, upper case, with `=` padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for chunk in bytes.chunks(5) {
        let mut block = [0u8; 5];
        block[..chunk.len()].copy_from_slice(chunk);
        let bits = block.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        let digits = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < digits {
                out.push(char::from(ALPHABET[((bits >> (35 - 5 * i)) & 31) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Base58 with Bitcoin's alphabet (leading zero bytes as `1`).
fn base58(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new();
    for &byte in bytes {
        let mut carry = u32::from(byte);
        for digit in digits.iter_mut() {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    std::iter::repeat_n('1', zeros)
        .chain(
            digits
                .iter()
                .rev()
                .map(|&d| char::from(ALPHABET[d as usize])),
        )
        .collect()
}

/// The characters of `encode(k zero bytes ‖ secret)` that depend on the
/// secret's bits alone, for every `k` below the encoding's block: what the
/// secret looks like wherever it sits inside a longer encoded string.
fn aligned(secret: &[u8], bits_per_char: usize, encode: &dyn Fn(&[u8]) -> String) -> Vec<String> {
    let block = bits_per_char / gcd(8, bits_per_char);
    (0..block)
        .map(|shift| {
            let mut padded = vec![0u8; shift];
            padded.extend_from_slice(secret);
            let text = encode(&padded);
            let first = (8 * shift).div_ceil(bits_per_char);
            let last = 8 * (shift + secret.len()) / bits_per_char;
            text[first..last].to_string()
        })
        .collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Every form of `secret` to look for.
fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut forms = vec![
        secret.to_vec(),
        hex(secret, false).into_bytes(),
        hex(secret, true).into_bytes(),
        base58(secret).into_bytes(),
    ];
    let b32 = base32(secret);
    forms.push(b32.trim_end_matches('=').as_bytes().to_vec());
    forms.push(
        b32.to_ascii_lowercase()
            .trim_end_matches('=')
            .as_bytes()
            .to_vec(),
    );
    forms.push(b32.into_bytes());
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        forms.push(engine.encode(secret).into_bytes());
    }
    for form in aligned(secret, 6, &|b| STANDARD.encode(b))
        .into_iter()
        .chain(aligned(secret, 6, &|b| URL_SAFE.encode(b)))
        .chain(aligned(secret, 5, &base32))
        .chain(aligned(secret, 5, &|b| base32(b).to_ascii_lowercase()))
    {
        forms.push(form.into_bytes());
    }
    forms.retain(|f| f.len() >= PROBE);
    forms.sort();
    forms.dedup();
    forms
}

/// Where any form of any secret occurs in `data`: (secret, offset).
fn find(secrets: &[Secret], data: &[u8]) -> Vec<(String, usize)> {
    let mut index: HashMap<&[u8], Vec<(usize, Vec<u8>)>> = HashMap::new();
    let forms: Vec<Vec<(usize, Vec<u8>)>> = secrets
        .iter()
        .enumerate()
        .map(|(i, s)| encodings(&s.bytes).into_iter().map(|f| (i, f)).collect())
        .collect();
    for (i, form) in forms.iter().flatten() {
        index
            .entry(&form[..PROBE])
            .or_default()
            .push((*i, form.clone()));
    }
    let mut found = Vec::new();
    for (at, window) in data.windows(PROBE).enumerate() {
        if let Some(candidates) = index.get(window) {
            for (i, form) in candidates {
                if data[at..].starts_with(form) {
                    found.push((secrets[*i].what.clone(), at));
                }
            }
        }
    }
    found
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn ringgate(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringgate"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// A grant's secrets: the string, its bytes, its root key and its API key's
/// tail.
fn grant_secrets(what: &str, grant: &str) -> Vec<Secret> {
    let parsed = Grant::parse(grant).unwrap();
    vec![
        secret(format!("{what} grant string"), grant.as_bytes()),
        secret(format!("{what} grant bytes"), parsed.to_bytes().to_vec()),
        secret(
            format!("{what} root key"),
            parsed.root_key().expose().to_vec(),
        ),
        secret(
            format!("{what} API key tail"),
            parsed.api_key().tail().to_vec(),
        ),
    ]
}

/// Registers `grant` with the CLI: its credentials' secrets and a client.
fn register(server: &Server, what: &str, grant: &str) -> (Vec<Secret>, Client) {
    let text = ringgate(&["grant", "register", grant, "--endpoint", &server.endpoint()]);
    let field = |label: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap()
            .trim()
            .to_string()
    };
    let (key, secret) = (field("access key id:"), field("secret key:"));
    let client = server.client_with(&key, &secret);
    (credential_secrets(what, &key, &secret), client)
}

fn credential_secrets(what: &str, key: &str, secret_key: &str) -> Vec<Secret> {
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(secret_key)
        .unwrap();
    vec![
        secret(format!("{what} access key id"), key.as_bytes()),
        secret(format!("{what} secret key"), secret_key.as_bytes()),
        secret(format!("{what} secret key bytes"), decoded),
    ]
}

/// An inline object, one of several segments and a multipart one.
async fn write_objects(s3: &Client, bucket: &str, seed: u64) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    for (key, len) in [("inline", 100), ("segments", (2 << 20) + 12_345)] {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes(len, seed + len as u64)))
            .send()
            .await
            .unwrap();
    }
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("multipart")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let mut parts = CompletedMultipartUpload::builder();
    for (number, len) in [(1, 5 << 20), (2, 4096)] {
        let part = s3
            .upload_part()
            .bucket(bucket)
            .key("multipart")
            .upload_id(id)
            .part_number(number)
            .body(ByteStream::from(bytes(len, seed + 7 * number as u64)))
            .send()
            .await
            .unwrap();
        parts = parts.parts(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(part.e_tag().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key("multipart")
        .upload_id(id)
        .multipart_upload(parts.build())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stolen_data_folder_opens_nothing() {
    // 1 MiB segments: the 2 MiB object spans three.
    let mut server = Server::start(&["--segment-size", "1MiB"]);
    let mut secrets = grant_secrets("default", &server.grant());
    secrets.extend(credential_secrets(
        "default",
        &server.access_key,
        &server.secret_key,
    ));
    write_objects(&server.client(), "default-data", 1).await;

    let data = server.data.display().to_string();
    let created = ringgate(&["project", "create", "tenant", "--data", &data]);
    let tenant = created.lines().last().unwrap().trim().to_string();
    let narrow = ringgate(&["grant", "restrict", &tenant, "--bucket", "tenant-data"]);
    let read_only = ringgate(&["grant", "restrict", narrow.trim(), "--read-only"]);
    let mut tenant_client = None;
    for (what, grant) in [
        ("tenant", tenant.as_str()),
        ("tenant narrow", narrow.trim()),
        ("tenant read-only", read_only.trim()),
    ] {
        secrets.extend(grant_secrets(what, grant));
        let (more, client) = register(&server, what, grant);
        secrets.extend(more);
        tenant_client.get_or_insert(client);
    }
    write_objects(&tenant_client.unwrap(), "tenant-data", 2).await;
    // Everything on disk, as a thief would copy it.
    assert!(server.stop(Duration::from_secs(10)));

    let mut scanned = 0;
    for path in files_under(&server.data) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let content = std::fs::read(&path).unwrap();
        let found = find(&secrets, &content);
        if path.parent() == Some(server.data.as_path()) && BY_DESIGN.contains(&name.as_str()) {
            // The control: the user's copies hold what they should, and the
            // scanner sees it.
            let wanted = if name == "grant" {
                "default grant string"
            } else {
                "default secret key"
            };
            assert!(
                found.iter().any(|(what, _)| what == wanted),
                "{name} should hold the {wanted}: the scanner is broken"
            );
            continue;
        }
        assert!(
            found.is_empty(),
            "{} holds {:?}",
            path.display(),
            found
                .iter()
                .map(|(w, at)| format!("{w} at {at}"))
                .collect::<Vec<_>>()
        );
        scanned += content.len();
    }
    // The folder held the metadata and the pieces of ~14 MiB of objects.
    assert!(scanned > 12 << 20, "scanned only {scanned} bytes");
}

#[test]
fn encoders_match_their_references() {
    assert_eq!(base32(b"foobar"), "MZXW6YTBOI======");
    assert_eq!(base32(b"fooba"), "MZXW6YTB");
    assert_eq!(base58(b"hello world"), "StV1DL6CwTryKyV");
    assert_eq!(base58(&[0, 0, 1]), "112");
    assert_eq!(hex(&[0xab, 0x01], true), "AB01");
    // A secret inside a longer base64 string is found at any alignment.
    let secret = bytes(32, 9);
    let forms = encodings(&secret);
    for shift in 0..3 {
        let mut longer = bytes(shift, 3);
        longer.extend_from_slice(&secret);
        longer.extend_from_slice(b"tail");
        let text = base64::engine::general_purpose::STANDARD.encode(&longer);
        let secrets = [self::secret("s".into(), secret.clone())];
        assert!(!find(&secrets, text.as_bytes()).is_empty(), "shift {shift}");
        assert!(forms
            .iter()
            .any(|f| text.as_bytes().windows(f.len()).any(|w| w == f)));
    }
}

/// The access key id in a presigned URL's `X-Amz-Credential`.
fn access_key_in(url: &str) -> String {
    let (_, credential) = url.split_once("X-Amz-Credential=").unwrap();
    let (key, _) = credential.split_once("%2F").unwrap();
    key.to_string()
}

/// What a thief with the database and an access key id can compute without
/// the server's secret: the record key derived from the id alone, as version
/// 2 of the record format did (and as any unsalted variant would), tried on
/// the sealed record's `nonce ‖ ciphertext ‖ tag`.
fn opens_with_the_id_alone(id: &str, sealed: &[u8]) -> bool {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use sha2::Digest;
    let row_key = sha2::Sha256::digest(id.as_bytes());
    ["ringgate access record v1", "ringgate access record v3"]
        .iter()
        .any(|info| {
            let mut key = [0u8; 32];
            hkdf::Hkdf::<sha2::Sha256>::new(None, id.as_bytes())
                .expand(info.as_bytes(), &mut key)
                .unwrap();
            let cipher = aes_gcm::Aes256Gcm::new(&key.into());
            let payload = Payload {
                msg: &sealed[13..],
                aad: &row_key,
            };
            cipher
                .decrypt(aes_gcm::Nonce::from_slice(&sealed[1..13]), payload)
                .is_ok()
        })
}

/// Issue 15, finding 7: the database plus a presigned URL (which carries the
/// access key id for anyone who sees it) opened the access record, and with
/// it the secret key, the grant and the project's root key. The record key
/// now also takes a secret derived from `server.key`, which is not in the
/// database.
#[tokio::test(flavor = "multi_thread")]
async fn the_database_and_a_presigned_url_open_no_access_record() {
    use aws_sdk_s3::presigning::PresigningConfig;
    let mut server = Server::start(&[]);
    let s3 = server.client();
    s3.create_bucket().bucket("shared").send().await.unwrap();
    let url = s3
        .get_object()
        .bucket("shared")
        .key("report.pdf")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(3600)).unwrap())
        .await
        .unwrap()
        .uri()
        .to_string();
    let id = access_key_in(&url);
    assert_eq!(id, server.access_key);
    assert!(server.stop(Duration::from_secs(10)));

    let store = ringgate::meta::RedbStore::open(server.data.join("meta.redb")).unwrap();
    let key = ringgate::auth::AccessKeyId::new(id.clone());
    let sealed = ringgate::meta::MetaBackend::access(&store, &key.row_key())
        .unwrap()
        .expect("the URL's access key has a record");
    assert!(
        !opens_with_the_id_alone(&id, &sealed),
        "the database and the URL open the record"
    );
    // The control: with the server's key as well, it opens (so the record
    // above was the right one), and it holds the project's root key.
    let server_key: [u8; 32] = std::fs::read(server.data.join("server.key"))
        .unwrap()
        .try_into()
        .unwrap();
    let secret = ringgate::auth::ServerKey::from_bytes(server_key).record_secret();
    let record = ringgate::auth::AccessRecord::open(&secret, &key, &sealed).unwrap();
    let grant = Grant::parse(&server.grant()).unwrap();
    assert_eq!(record.grant.root_key().expose(), grant.root_key().expose());
}
