// sqlx embeds the migrations at compile time (`sqlx::migrate!`): without this, adding a
// migration alone would not rebuild the binaries that apply them.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations_demo_app");
}
