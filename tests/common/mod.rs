//! Test helpers shared by the integration test files.
#![allow(dead_code)]
pub mod broker;
pub mod certs;
pub mod cli;
pub mod codec;
pub mod gate;
pub mod gen;
pub mod haproxy;
pub mod npm;
pub mod proxy;
pub mod raw;
pub mod session;
pub mod shipped;
pub mod tokens;
