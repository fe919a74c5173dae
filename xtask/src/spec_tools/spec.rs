//! The few facts of the bundled `spec/openapi.yaml` the checks compare against: its operations.

use std::path::Path;

use anyhow::Context as _;
use serde_yaml::Value;

/// The bundled spec, relative to the workspace root.
pub const BUNDLED_SPEC: &str = "spec/openapi.yaml";

/// One operation of the bundled spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// `operationId`.
    pub id: String,
    /// Its (single) tag.
    pub tag: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// `summary`.
    pub summary: String,
}

/// Every operation of `spec/openapi.yaml`, in spec order.
pub fn operations(root: &Path) -> anyhow::Result<Vec<Operation>> {
    let path = root.join(BUNDLED_SPEC);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: Value = serde_yaml::from_str(&text).with_context(|| format!("{} is not valid YAML", path.display()))?;
    let mut out = Vec::new();
    for (path, item) in doc.get("paths").and_then(Value::as_mapping).into_iter().flatten() {
        let path = path.as_str().unwrap_or_default();
        for (method, op) in item.as_mapping().into_iter().flatten() {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else { continue };
            let text = |key: &str| op.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
            let tag = op.get("tags").and_then(|t| t.get(0)).and_then(Value::as_str).unwrap_or_default();
            out.push(Operation {
                id: id.to_owned(),
                tag: tag.to_owned(),
                method: method.as_str().unwrap_or_default().to_uppercase(),
                path: path.to_owned(),
                summary: text("summary"),
            });
        }
    }
    anyhow::ensure!(!out.is_empty(), "{BUNDLED_SPEC} has no operations");
    Ok(out)
}

/// The tags of `operations`, in first-seen order.
pub fn tags(operations: &[Operation]) -> Vec<&str> {
    let mut tags: Vec<&str> = Vec::new();
    for op in operations {
        if !tags.contains(&op.tag.as_str()) {
            tags.push(&op.tag);
        }
    }
    tags
}
