//! The S3 surface as one enum: every operation ringgate supports, with its
//! S3 API name. Pure vocabulary below everything that names an operation:
//! `s3::route` maps requests to it, handlers are dispatched by it, `metrics`
//! counts by it.

macro_rules! operations {
    ($($(#[$doc:meta])* $operation:ident,)*) => {
        /// Every S3 operation ringgate supports.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Operation {
            $($(#[$doc])* $operation,)*
        }

        impl Operation {
            pub const ALL: &'static [Operation] = &[$(Operation::$operation,)*];

            /// The S3 API name, e.g. `"ListObjectsV2"` (also the SDKs' `x-id`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Operation::$operation => stringify!($operation),)*
                }
            }
        }
    };
}

operations! {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    GetBucketVersioning,
    PutBucketVersioning,
    GetObjectLockConfiguration,
    PutObjectLockConfiguration,
    GetBucketTagging,
    PutBucketTagging,
    DeleteBucketTagging,
    GetBucketEncryption,
    PutBucketEncryption,
    DeleteBucketEncryption,
    /// ListObjects version 1.
    ListObjects,
    ListObjectsV2,
    ListObjectVersions,
    GetObjectRetention,
    PutObjectRetention,
    GetObjectLegalHold,
    PutObjectLegalHold,
    GetObjectTagging,
    PutObjectTagging,
    DeleteObjectTagging,
    GetObjectAttributes,
    ListMultipartUploads,
    DeleteObjects,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    DeleteObject,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
}

impl Operation {
    /// The operation called `name` (exact S3 API name).
    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.iter().copied().find(|op| op.name() == name)
    }

    /// Whether the operation addresses an object (and so has a key).
    pub fn has_key(self) -> bool {
        matches!(
            self,
            Operation::PutObject
                | Operation::CopyObject
                | Operation::GetObject
                | Operation::HeadObject
                | Operation::DeleteObject
                | Operation::CreateMultipartUpload
                | Operation::UploadPart
                | Operation::UploadPartCopy
                | Operation::CompleteMultipartUpload
                | Operation::AbortMultipartUpload
                | Operation::ListParts
                | Operation::GetObjectRetention
                | Operation::PutObjectRetention
                | Operation::GetObjectLegalHold
                | Operation::PutObjectLegalHold
                | Operation::GetObjectTagging
                | Operation::PutObjectTagging
                | Operation::DeleteObjectTagging
                | Operation::GetObjectAttributes
        )
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
