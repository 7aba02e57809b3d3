//! Signing keys, signatures and their constant-time check.

use std::fmt;

use hmac::{digest::KeyInit, Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::constants::SCOPE_TERMINATOR;
use super::error::SigV4Error;

type HmacSha256 = Hmac<Sha256>;

/// The key of one (secret, date, region, service): derivation costs four
/// HMACs, so the server caches it per (access key, date, region) and signs
/// with it all day. Wiped when dropped; its `Debug` shows nothing.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn mac(&self) -> HmacSha256 {
        keyed(&self.0)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

fn keyed(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length")
}

fn hmac_into(key: &[u8], data: &[u8], out: &mut [u8; 32]) {
    let mut mac = keyed(key);
    mac.update(data);
    out.copy_from_slice(&mac.finalize().into_bytes());
}

/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
/// `date` is the scope's `yyyymmdd`. The intermediate keys are wiped too.
pub fn signing_key(
    secret_access_key: &[u8],
    date: &str,
    region: &str,
    service: &str,
) -> SigningKey {
    let mut seed = Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret_access_key);
    let mut date_key = Zeroizing::new([0u8; 32]);
    let mut region_key = Zeroizing::new([0u8; 32]);
    let mut service_key = Zeroizing::new([0u8; 32]);
    let mut key = SigningKey([0u8; 32]);
    hmac_into(&seed, date.as_bytes(), &mut date_key);
    hmac_into(&*date_key, region.as_bytes(), &mut region_key);
    hmac_into(&*region_key, service.as_bytes(), &mut service_key);
    hmac_into(&*service_key, SCOPE_TERMINATOR.as_bytes(), &mut key.0);
    key
}

/// The signature of a string to sign (of a request, a chunk or a trailer).
pub fn sign(key: &SigningKey, string_to_sign: &str) -> [u8; 32] {
    let mut mac = key.mac();
    mac.update(string_to_sign.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Checks `signature` against `string_to_sign` in constant time (the HMAC
/// crate's `verify_slice`), so the time taken says nothing about how many
/// leading bytes of a forged signature were right.
pub fn verify(
    key: &SigningKey,
    string_to_sign: &str,
    signature: &[u8; 32],
) -> Result<(), SigV4Error> {
    if mac_matches(key, string_to_sign.as_bytes(), signature) {
        return Ok(());
    }
    Err(SigV4Error::SignatureDoesNotMatch {
        canonical_request: None,
        string_to_sign: string_to_sign.to_owned(),
    })
}

pub(crate) fn mac_matches(key: &SigningKey, string_to_sign: &[u8], signature: &[u8; 32]) -> bool {
    let mut mac = key.mac();
    mac.update(string_to_sign);
    mac.verify_slice(signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::signature_hex;

    /// AWS General Reference, "Examples of how to derive a signing key for
    /// Signature Version 4": IAM, 20120215, us-east-1.
    #[test]
    fn derives_the_documented_key() {
        let key = signing_key(
            b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            signature_hex(key.as_bytes()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        assert_eq!(format!("{key:?}"), "SigningKey(..)");
    }

    #[test]
    fn verify_is_sign_checked() {
        let key = signing_key(b"secret", "20130524", "us-east-1", "s3");
        let sig = sign(&key, "to sign");
        assert_eq!(verify(&key, "to sign", &sig), Ok(()));
        let mut wrong = sig;
        wrong[31] ^= 1;
        assert_eq!(
            verify(&key, "to sign", &wrong),
            Err(SigV4Error::SignatureDoesNotMatch {
                canonical_request: None,
                string_to_sign: "to sign".into()
            })
        );
        let other = signing_key(b"secret", "20130525", "us-east-1", "s3");
        assert!(verify(&other, "to sign", &sig).is_err());
    }
}
