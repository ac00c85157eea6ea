//! Compiles the contracts with protox (no system `protoc`), writes the
//! encoded descriptor set for reflection and JSON, generates the Rust
//! messages, clients and servers, and the table of who may call each method
//! (each method's `(cppcc.common.v1.access)` option).

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut files = Vec::new();
    collect_protos(&root, &root.join("cppcc"), &mut files)?;
    files.sort();

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(&files)?;
    println!("cargo:rerun-if-changed={}", root.join("cppcc").display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    std::fs::write(
        out_dir.join("cppcc_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    std::fs::write(
        out_dir.join("cppcc_access.rs"),
        access_table(&compiler.descriptor_pool())?,
    )?;

    let mut config = tonic_prost_build::Config::new();
    // `prost::Name` for every message: event payloads are packed into `Any`.
    config.enable_type_names();
    config.type_name_domain(["."], "type.googleapis.com");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds_with_config(compiler.file_descriptor_set(), config)?;
    Ok(())
}

/// The callers of every cppcc method, as Rust: a sorted slice of
/// (`package.Service/Method`, roles). A method that declares no callers
/// fails the build: refusing it everywhere would be a silent outage.
fn access_table(
    pool: &prost_reflect::DescriptorPool,
) -> Result<String, Box<dyn std::error::Error>> {
    use prost_reflect::Value;
    let access = pool
        .get_extension_by_name("cppcc.common.v1.access")
        .ok_or("cppcc/common/v1/access.proto declares no `access` option")?;
    let role = pool
        .get_enum_by_name("cppcc.common.v1.Role")
        .ok_or("no cppcc.common.v1.Role")?;
    let mut rows = Vec::new();
    for service in pool.services() {
        if !service.full_name().starts_with("cppcc.") {
            continue;
        }
        for method in service.methods() {
            let full = format!("{}/{}", service.full_name(), method.name());
            let options = method.options();
            if !options.has_extension(&access) {
                return Err(format!("{full} does not say who may call it: give it an (cppcc.common.v1.access) option").into());
            }
            let Value::Message(declared) = options.get_extension(&access).into_owned() else {
                return Err(format!("{full}: the access option is not a message").into());
            };
            let roles = declared
                .get_field_by_name("roles")
                .ok_or("Access has no `roles`")?
                .into_owned();
            let mut names = Vec::new();
            for value in roles.as_list().ok_or("Access.roles is not a list")? {
                let number = value
                    .as_enum_number()
                    .ok_or("a role is not an enum value")?;
                let name = role
                    .get_value(number)
                    .filter(|v| v.number() != 0)
                    .ok_or_else(|| format!("{full} names role {number}, which is not a role"))?
                    .name()
                    .trim_start_matches("ROLE_")
                    .to_ascii_lowercase();
                let variant: String = name
                    .split('_')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                            .unwrap_or_default()
                    })
                    .collect();
                if !names.contains(&variant) {
                    names.push(variant);
                }
            }
            rows.push((full, names));
        }
    }
    rows.sort();
    let mut out = String::from(
        "/// Who may call each cppcc method, from the contracts: sorted by method\n\
         /// (`package.Service/Method`).\n\
         pub static METHODS: &[(&str, &[Role])] = &[\n",
    );
    for (method, roles) in rows {
        let roles: Vec<String> = roles.iter().map(|r| format!("Role::{r}")).collect();
        out.push_str(&format!("    ({method:?}, &[{}]),\n", roles.join(", ")));
    }
    out.push_str("];\n");
    Ok(out)
}

fn collect_protos(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path.strip_prefix(root).expect("under root").to_path_buf());
        }
    }
    Ok(())
}
