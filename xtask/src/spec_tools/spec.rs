//! The operations of the bundled `spec/openapi.yaml` as it is on disk, read with the one spec
//! reader of the workspace ([`vc_spec::Spec`]).

use std::path::Path;

use anyhow::Context as _;
pub use vc_spec::Operation;

/// The bundled spec, relative to the workspace root.
pub const BUNDLED_SPEC: &str = "spec/openapi.yaml";

/// The bundled spec as it is on disk (which may be newer than the copy compiled into vc-mock).
pub fn read(root: &Path) -> anyhow::Result<vc_spec::Spec> {
    let path = root.join(BUNDLED_SPEC);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    vc_spec::Spec::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Every operation of `spec/openapi.yaml`, in spec order.
pub fn operations(root: &Path) -> anyhow::Result<Vec<Operation>> {
    let out = read(root)?.operations().to_vec();
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
