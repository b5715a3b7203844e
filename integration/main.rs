//! Integration tests: drive the rt binary as root on busybox bundles.
