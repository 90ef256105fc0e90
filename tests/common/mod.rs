//! Test helpers shared by the integration test files.
#![allow(dead_code)]
pub mod codec;
pub mod gen;
