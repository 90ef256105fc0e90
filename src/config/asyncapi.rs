//! A proxy configured from an AsyncAPI document alone (`mqtt-proxy --asyncapi
//! api.yaml --upstream broker=127.0.0.1:1884`): the document rendered into native
//! config text by [`crate::asyncapi`], then validated like any native file.

use super::{Config, ConfigError};
use crate::asyncapi::{self, Api, Upstream};
use crate::doc::DocError;
use std::path::Path;

/// `NAME=host:port[,host:port...]` from the command line.
pub fn parse_upstream(s: &str) -> Result<Upstream, String> {
    let (name, servers) = s.split_once('=').ok_or("use NAME=HOST:PORT[,HOST:PORT...]")?;
    let servers: Vec<String> =
        servers.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect();
    if name.is_empty() || servers.is_empty() {
        return Err("use NAME=HOST:PORT[,HOST:PORT...]".into());
    }
    Ok(Upstream { name: name.to_string(), servers })
}

/// Reads the document; with `strict`, the first warning is an error.
pub fn read(path: &Path, strict: bool) -> Result<Api, ConfigError> {
    let api = asyncapi::read(path, &|p| std::fs::read_to_string(p)).map_err(ConfigError::AsyncApi)?;
    match api.warnings.first() {
        Some(w) if strict => {
            Err(ConfigError::AsyncApi(DocError { message: format!("{} (--strict)", w.message), ..w.clone() }))
        }
        _ => Ok(api),
    }
}

impl Config {
    /// The config an AsyncAPI document gives with `upstream` as its brokers, and
    /// the document's warnings.
    pub fn from_asyncapi(
        path: &Path,
        upstream: &Upstream,
        strict: bool,
    ) -> Result<(Config, Api), ConfigError> {
        let api = read(path, strict)?;
        let text = asyncapi::render(&api, &path.display().to_string(), upstream, None);
        let config = Config::parse_in(&text, |_| None, path.parent())?;
        Ok((config, api))
    }
}
