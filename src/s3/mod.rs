//! The S3 surface: operations and routing, S3 error codes, XML bodies.
