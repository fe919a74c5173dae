//! `cargo xtask spec-clients`: other languages' clients generated from `spec/openapi.yaml`,
//! proved to compile or import.
//!
//! - TypeScript: openapi-typescript writes `target/spec-tools/typescript/vc-api.d.ts`; `tsc
//!   --strict --noEmit` compiles it with `tools/typescript/usage.ts` (typed calls through
//!   openapi-fetch) and a generated list of every operationId that must match the types'
//!   operations exactly.
//! - Python: openapi-python-client writes the `vc_api_client` package to
//!   `target/spec-tools/python/`; `tools/python/check_client.py` imports it and the module of
//!   every operation.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::install::{NodeTools, PythonTools};
use super::spec::{BUNDLED_SPEC, Operation};
use super::{OUTPUT_DIR, TOOLS_DIR, TOOLS_SOURCE, process};

/// Where the TypeScript client is generated, relative to the workspace root.
pub const TYPESCRIPT_DIR: &str = "target/spec-tools/typescript";
/// Where the Python client project is generated, relative to the workspace root.
pub const PYTHON_DIR: &str = "target/spec-tools/python";

fn fresh_dir(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        std::fs::remove_dir_all(path)?;
    }
    std::fs::create_dir_all(path)?;
    Ok(())
}

/// Generates the TypeScript types and compiles them with the usage file under `tsc --strict`.
pub fn typescript(root: &Path, node: &NodeTools, operations: &[Operation]) -> anyhow::Result<()> {
    println!(
        "\n== TypeScript client: openapi-typescript {} + openapi-fetch {}, tsc {} --strict",
        node.version("openapi-typescript"),
        node.version("openapi-fetch"),
        node.version("typescript")
    );
    let dir = root.join(TYPESCRIPT_DIR);
    fresh_dir(&dir)?;
    process::run(node.command("openapi-typescript").args([BUNDLED_SPEC, "--output"]).arg(dir.join("vc-api.d.ts")))?;
    std::fs::copy(root.join(TOOLS_SOURCE).join("typescript/usage.ts"), dir.join("usage.ts"))?;
    std::fs::write(dir.join("operation-ids.ts"), operation_ids_ts(operations))?;
    std::fs::write(dir.join("tsconfig.json"), tsconfig(root))?;
    process::run(
        node.command("tsc").args(["--project"]).arg(dir.join("tsconfig.json")).args(["--strict", "--noEmit"]),
    )?;
    println!(
        "typescript client: {TYPESCRIPT_DIR} compiles under tsc --strict with all {} operations",
        operations.len()
    );
    Ok(())
}

/// A TypeScript module that compiles only when the generated `operations` type has exactly
/// the spec's operationIds.
fn operation_ids_ts(operations: &[Operation]) -> String {
    let mut ids = String::new();
    for op in operations {
        let _ = writeln!(ids, "  \"{}\",", op.id);
    }
    format!(
        "// Written by `cargo xtask spec-clients`: the operationIds of {BUNDLED_SPEC}. Compiles only when\n\
         // the generated types hold exactly these operations.\n\
         import type {{ operations }} from \"./vc-api\";\n\n\
         export const OPERATION_IDS = [\n{ids}] as const satisfies readonly (keyof operations)[];\n\n\
         type Unlisted = Exclude<keyof operations, (typeof OPERATION_IDS)[number]>;\n\
         export const everyOperationIsListed: [Unlisted] extends [never] ? true : false = true;\n"
    )
}

/// `tsconfig.json` for the generated folder: strict, no emit, `openapi-fetch` from `.tools/`.
fn tsconfig(root: &Path) -> String {
    let openapi_fetch = root.join(TOOLS_DIR).join("node_modules/openapi-fetch");
    let config = serde_json::json!({
        "compilerOptions": {
            "strict": true,
            "noEmit": true,
            "noUnusedLocals": true,
            "noUncheckedIndexedAccess": true,
            "exactOptionalPropertyTypes": true,
            "target": "ES2022",
            "module": "ESNext",
            "moduleResolution": "Bundler",
            "lib": ["ES2022", "DOM"],
            "types": [],
            "paths": { "openapi-fetch": [openapi_fetch.display().to_string()] }
        },
        "files": ["vc-api.d.ts", "operation-ids.ts", "usage.ts"]
    });
    serde_json::to_string_pretty(&config).expect("JSON serializes")
}

/// Generates the Python client and imports it and every operation module. Returns the
/// generated project folder.
pub fn python(root: &Path, python: &PythonTools, operations: &[Operation]) -> anyhow::Result<PathBuf> {
    println!("\n== Python client: openapi-python-client (pinned in {TOOLS_SOURCE}/requirements.txt)");
    let dir = root.join(PYTHON_DIR);
    std::fs::create_dir_all(root.join(OUTPUT_DIR))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    process::run(
        python
            .command("openapi-python-client")
            .args(["generate", "--path", BUNDLED_SPEC, "--output-path", PYTHON_DIR, "--config"])
            .arg(Path::new(TOOLS_SOURCE).join("python/openapi-python-client.yaml")),
    )?;
    check_python(python, &dir, operations, None)?;
    Ok(dir)
}

/// Runs `tools/python/check_client.py` on the generated project: imports, and with `base_url`
/// one call against that server.
pub fn check_python(
    python: &PythonTools,
    project: &Path,
    operations: &[Operation],
    base_url: Option<&str>,
) -> anyhow::Result<()> {
    let mut command = python.command("python");
    command.arg(Path::new(TOOLS_SOURCE).join("python/check_client.py")).arg(project);
    command.args(operations.iter().map(|op| format!("{}/{}", op.tag, op.id)));
    if let Some(url) = base_url {
        command.args(["--base-url", url]);
    }
    // The operation list is long: show the command without it.
    println!("$ python {TOOLS_SOURCE}/python/check_client.py {} <{} operations>", project.display(), operations.len());
    let status = command.status()?;
    anyhow::ensure!(status.success(), "the generated Python client failed its check ({status})");
    Ok(())
}
