//! The structural limits of the metadata: S3's where S3 sets one, else a
//! bound that keeps every record and page small.

/// S3's longest object key.
pub const OBJECT_KEY_BYTES_MAX: usize = 1024;
/// A structural bound only (S3's naming rules, 3 to 63 characters, belong to
/// the S3 layer); what meta needs is a name with no NUL byte.
pub const BUCKET_NAME_BYTES_MAX: usize = 255;
/// Buckets one project may own (AWS's default quota is 100, its ceiling 10,000).
pub const BUCKETS_PER_PROJECT_MAX: usize = 1000;
/// Keys plus common prefixes in one listing page, and uploads in one upload
/// listing: S3's cap on max-keys and max-uploads.
pub const LIST_ENTRIES_MAX: usize = 1000;
/// How long a completed multipart upload's answer is kept, so that a retried
/// CompleteMultipartUpload (a client that lost the first answer) gets it
/// again instead of NoSuchUpload.
pub const COMPLETED_UPLOAD_MEMORY_MS: u64 = 60 * 60 * 1000;
/// Expired completion answers each completion removes at most: amortised
/// pruning, so the memory stays about one window's completions.
pub const COMPLETED_UPLOADS_PRUNED_PER_COMMIT: usize = 2;

/// S3's highest part number (and so the most parts of one upload).
pub const PART_NUMBER_MAX: u32 = 10_000;
