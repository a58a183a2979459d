//! Release builds of `sobre` for Linux are linked with `link/code-order.ld`, which places the
//! code the agent runs at the front of the binary. The kernel maps a binary's code 64 KiB at a
//! time around each page a program first runs (fault-around); spread over the whole binary, the
//! code run at start and at rest kept all of it resident (3.6 of 3.8 MiB), placed together about
//! a third of it (README "Idle memory"). `scripts/order-code` writes the script. Debug builds
//! (the tests') link without it: they are not what runs on a gateway.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=link/code-order.ld");
    let release = env::var("PROFILE").is_ok_and(|profile| profile == "release");
    let linux = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let Ok(manifest_dir) = env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    let script = Path::new(&manifest_dir).join("link").join("code-order.ld");
    if release && linux && script.exists() {
        println!("cargo:rustc-link-arg-bin=sobre=-Wl,-T,{}", script.display());
    }
}
