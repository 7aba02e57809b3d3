//! One executor thread of a run: its connections, signer, working set and
//! statistics (`Core`, `Rc`/`RefCell`, never shared), the S3 operations it
//! times, and the phases it goes through in step with the others — set up
//! the bucket (thread 0), prepare its share of the working set, run the
//! timed loop with its share of the concurrency, clean up its keys. It talks
//! to the main thread only through `Message`s on a channel and meets the
//! other threads only at the phase barriers.

mod error;
mod exchange;
mod ops;
mod thread;

pub use error::OpError;
pub use thread::{run_thread, Message, Shared};
