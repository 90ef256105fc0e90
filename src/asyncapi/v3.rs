//! AsyncAPI 3.0: servers with `host` and `protocol`, channels with an `address`
//! and their `messages`, and `operations` with `action: send | receive` on a
//! channel (send: clients publish; receive: clients subscribe).

use super::common::{self, finish, is_documentation};
use super::model::{Action, Api, Channel, Operation};
use crate::doc::{pointer_escape, DocError, Node, Obj, Value};

/// Reads a 3.0 document: `raw` as written (for which channel an operation's
/// `$ref` names), `root` with references inlined.
pub fn read(raw: &Node, root: &Node, api: &mut Api) -> Result<(), DocError> {
    let (mut top, default_ct) = common::top(root, api)?;
    if let Some(mut servers) = top.opt_obj("servers")? {
        let sp = servers.pointer().to_string();
        for (name, node) in servers.all() {
            let mut o = Obj::new(node, &format!("{sp}/{}", pointer_escape(name)))?;
            let host = o.req_str("host")?.to_string();
            if let Some(Node { value: Value::Seq(sec), .. }) = node.get("security") {
                api.schemes.extend(common::schemes(sec, None));
            }
            o.skip(|k| k == "pathname");
            if let Some(s) = common::server(name, &mut o, &host, &mut api.warnings)? {
                api.servers.push(s);
            }
            finish(o, &mut api.warnings);
        }
    }
    if let Some(mut channels) = top.opt_obj("channels")? {
        let cp = channels.pointer().to_string();
        for (id, node) in channels.all() {
            let pointer = format!("{cp}/{}", pointer_escape(id));
            let mut o = Obj::new(node, &pointer)?;
            o.skip(|k| is_documentation(k) || k == "servers");
            let Some(address) = o.opt_str("address")? else {
                api.warnings.push(o.error("a channel without an `address` names no topic (ignored)"));
                o.skip(|_| true);
                continue;
            };
            let params = o.opt_obj("parameters")?;
            let (filter, template) =
                common::address(address, params, node, &o.child("address"), &mut api.warnings)?;
            o.opt("messages");
            common::bindings(&mut o, &mut api.warnings)?;
            finish(o, &mut api.warnings);
            let address = address.to_string();
            api.channels.push(Channel {
                id: id.to_string(),
                address,
                filter,
                template,
                operations: Vec::new(),
                line: node.line,
            });
        }
    }
    if let Some(mut ops) = top.opt_obj("operations")? {
        let op_pointer = ops.pointer().to_string();
        for (id, node) in ops.all() {
            let pointer = format!("{op_pointer}/{}", pointer_escape(id));
            let mut o = Obj::new(node, &pointer)?;
            o.skip(|k| is_documentation(k) || k == "traits" || k == "reply");
            let action = match o.req_str("action")? {
                "send" => Action::Send,
                "receive" => Action::Receive,
                other => return Err(o.error_at("action", format!("`{other}`: use send or receive"))),
            };
            // Which channel: the reference as written in the raw document.
            let reference = raw.at_pointer(&format!("{pointer}/channel/$ref")).and_then(Node::as_str);
            let channel_id = reference
                .and_then(|r| r.strip_prefix("#/channels/"))
                .map(|c| c.replace("~1", "/").replace("~0", "~"))
                .ok_or_else(|| o.error_at("channel", "`channel` must be a `$ref` to `#/channels/<id>`"))?;
            o.opt("channel");
            let channel = root.at_pointer(&format!("/channels/{}", pointer_escape(&channel_id)));
            let Some(channel_node) = channel else {
                return Err(o.error_at("channel", format!("no channel `{channel_id}`")));
            };
            let security = o.opt_seq("security")?;
            api.schemes.extend(common::schemes(security.unwrap_or_default(), None));
            let scopes = security.map(common::scopes).unwrap_or_default();
            // Messages: the operation's list, else every message of the channel.
            let mut messages = Vec::new();
            let listed = raw.at_pointer(&format!("{pointer}/messages"));
            match (listed, o.opt("messages")) {
                (Some(Node { value: Value::Seq(refs), .. }), Some(Node { value: Value::Seq(items), .. })) => {
                    for (i, (r, m)) in refs.iter().zip(items).enumerate() {
                        let name = r
                            .get("$ref")
                            .and_then(Node::as_str)
                            .and_then(|r| r.rsplit('/').next())
                            .unwrap_or("message");
                        messages.push(common::message(
                            name,
                            m,
                            &format!("{pointer}/messages/{i}"),
                            default_ct.as_deref(),
                            &mut api.warnings,
                        )?);
                    }
                }
                _ => {
                    if let Some(all) = channel_node.get("messages").and_then(Node::entries) {
                        for (name, _, m) in all {
                            let mp = format!(
                                "/channels/{}/messages/{}",
                                pointer_escape(&channel_id),
                                pointer_escape(name)
                            );
                            messages.push(common::message(
                                name,
                                m,
                                &mp,
                                default_ct.as_deref(),
                                &mut api.warnings,
                            )?);
                        }
                    }
                }
            }
            let binding = common::op_bindings(&mut o, &mut api.warnings)?;
            let line = node.line;
            finish(o, &mut api.warnings);
            let op = Operation { id: id.to_string(), action, messages, scopes, binding, line };
            match api.channels.iter_mut().find(|c| c.id == channel_id) {
                Some(c) => c.operations.push(op),
                None => {
                    return Err(DocError::at(
                        node,
                        &pointer,
                        format!("channel `{channel_id}` has no address"),
                    ))
                }
            }
        }
    }
    finish(top, &mut api.warnings);
    Ok(())
}
