// Rebuild when migrations or the sqlx settings change: `sqlx::migrate!`
// embeds them at compile time.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=sqlx.toml");
}
