//! AsyncAPI 2.6: servers with `url`, channels keyed by address with `publish`
//! (messages the application consumes: clients subscribe) and `subscribe`
//! (messages the application produces: clients publish).

use super::common::{self, finish, is_documentation};
use super::model::{Action, Api, Channel, Operation};
use crate::doc::{pointer_escape, DocError, Node, Obj, Value};

/// Reads a resolved 2.6 document.
pub fn read(root: &Node, api: &mut Api) -> Result<(), DocError> {
    let (mut top, default_ct) = common::top(root, api)?;
    if let Some(mut servers) = top.opt_obj("servers")? {
        let sp = servers.pointer().to_string();
        for (name, node) in servers.all() {
            let mut o = Obj::new(node, &format!("{sp}/{}", pointer_escape(name)))?;
            let url = o.req_str("url")?.to_string();
            if let Some(sec) = node.get("security").and_then(|n| match &n.value {
                Value::Seq(s) => Some(s),
                _ => None,
            }) {
                api.schemes.extend(common::schemes(sec, Some(root)));
            }
            if let Some(s) = common::server(name, &mut o, &url, &mut api.warnings)? {
                api.servers.push(s);
            }
            finish(o, &mut api.warnings);
        }
    }
    let mut channels = top.opt_obj("channels")?.ok_or_else(|| top.error("`channels` is required"))?;
    let cp = channels.pointer().to_string();
    for (address, node) in channels.all() {
        let pointer = format!("{cp}/{}", pointer_escape(address));
        let mut o = Obj::new(node, &pointer)?;
        o.skip(|k| is_documentation(k) || k == "servers");
        let params = o.opt_obj("parameters")?;
        let (filter, template) = common::address(address, params, node, &pointer, &mut api.warnings)?;
        let mut ops = Vec::new();
        for (key, action) in [("subscribe", Action::Send), ("publish", Action::Receive)] {
            let op_pointer = o.child(key);
            let Some(mut op) = o.opt_obj(key)? else { continue };
            ops.push(operation(
                &mut op,
                address,
                key,
                action,
                default_ct.as_deref(),
                &op_pointer,
                &mut api.warnings,
            )?);
            finish(op, &mut api.warnings);
        }
        common::bindings(&mut o, &mut api.warnings)?;
        finish(o, &mut api.warnings);
        api.channels.push(Channel {
            id: address.to_string(),
            address: address.to_string(),
            filter,
            template,
            operations: ops,
            line: node.line,
        });
    }
    finish(top, &mut api.warnings);
    Ok(())
}

fn operation(
    op: &mut Obj<'_>,
    address: &str,
    key: &str,
    action: Action,
    default_ct: Option<&str>,
    pointer: &str,
    warnings: &mut Vec<DocError>,
) -> Result<Operation, DocError> {
    let id = op.opt_str("operationId")?.map_or_else(|| format!("{address} {key}"), str::to_string);
    op.skip(|k| is_documentation(k) || k == "traits");
    let scopes = op.opt_seq("security")?.map(common::scopes).unwrap_or_default();
    let mut messages = Vec::new();
    let mp = format!("{pointer}/message");
    if let Some(m) = op.opt("message") {
        match m.get("oneOf") {
            Some(Node { value: Value::Seq(items), .. }) => {
                for (i, item) in items.iter().enumerate() {
                    let name = item
                        .get("name")
                        .and_then(Node::as_str)
                        .map_or_else(|| format!("{id}#{i}"), str::to_string);
                    messages.push(common::message(
                        &name,
                        item,
                        &format!("{mp}/oneOf/{i}"),
                        default_ct,
                        warnings,
                    )?);
                }
            }
            _ => {
                let name = m.get("name").and_then(Node::as_str).unwrap_or(&id).to_string();
                messages.push(common::message(&name, m, &mp, default_ct, warnings)?);
            }
        }
    }
    let binding = common::op_bindings(op, warnings)?;
    Ok(Operation { id, action, messages, scopes, binding, line: op.node().line })
}
